"""Reading a spider process's operations port in tests: /healthz, /readyz status codes, /metrics samples (the
demo's reader, deploy/demo/progress.py)."""

from __future__ import annotations

import urllib.error
import urllib.request

from deploy.demo.progress import Samples, scrape, total

__all__ = ["Samples", "probe", "scrape", "total"]


def probe(port: int, path: str) -> int:
    """HTTP status of GET <path> on the process's operations port (0 while it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0
