"""spider: HTCondor job ads -> Kafka -> documents -> Elasticsearch, OpenSearch and MONIT.

Imported first by every entry point, so the guard against stale compiled modules (services/compilation.py)
is in place before any of them is imported.
"""

from services import compilation as compilation
