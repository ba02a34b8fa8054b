"""The TLS failure buried in a client library's exception, said in words an operator can act on.

urllib3, elastic-transport, opensearch-py and stomp.py wrap the `ssl` error two to four levels deep; the services
report one line per outage, so that line must carry the cause (untrusted certificate, host name not in it) and
never a stack trace.
"""

from __future__ import annotations

import ssl

# OpenSSL X509_V_ERR_* codes an operator fixes differently
_UNTRUSTED = {2, 18, 19, 20, 21}  # no issuer certificate / self-signed / unable to get local issuer / leaf unverifiable
_NAME_MISMATCH = {62, 64}  # host name / IP address mismatch
_EXPIRED = {10}


def _chain(exc: BaseException, depth: int = 0):
    """`exc` and every exception it wraps (cause, context, and the libraries' own wrapping attributes)."""
    if depth > 8:
        return
    yield exc
    nested: list[object] = [exc.__cause__, exc.__context__, getattr(exc, "reason", None), getattr(exc, "info", None)]
    nested += list(getattr(exc, "errors", ()) or ()) + list(exc.args)
    for inner in nested:
        if isinstance(inner, BaseException) and inner is not exc:
            yield from _chain(inner, depth + 1)


def cause(exc: BaseException) -> str | None:
    """What went wrong in the TLS handshake, or None if the failure is not a TLS one."""
    for inner in _chain(exc):
        if isinstance(inner, ssl.SSLCertVerificationError):
            detail = (inner.verify_message or str(inner)).rstrip(".")
            if inner.verify_code in _UNTRUSTED:
                return f"certificate not trusted ({detail}): the CA bundle does not hold the server's CA"
            if inner.verify_code in _NAME_MISMATCH:
                return f"host name not in the server's certificate ({detail})"
            if inner.verify_code in _EXPIRED:
                return f"server certificate expired ({detail})"
            return f"certificate verification failed ({detail})"
    for inner in _chain(exc):
        if isinstance(inner, ssl.SSLError):
            return f"TLS handshake failed ({inner.reason or inner})"
    return None
