"""`spider affiliations refresh`: the CRIC user directory -> the affiliation cache file the converter reads.

CRIC answers `GET <url>` (client certificate of the robot, CERN CA) with one JSON object per person:
`{"<full name>": {"profiles": [{"login": "jdoe", ...}, ...], "institute": ..., "institute_country": ...,
"dn": ...}, ...}`. The cache keeps, per login, `{"institute", "country", "dn"}` (the format of the
reference's .affiliation_dir.json, read by services.converter.affiliations). The new file replaces the
old one atomically (temp file in the same directory + os.replace), so a converter never reads half a
file; on any failure, including an answer with no usable person, the old file stays as it is.
"""

from __future__ import annotations

import os
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from services.common.errors import SpiderError


class RefreshError(SpiderError):
    """The directory could not be downloaded or made sense of; the cache file was left untouched."""


@dataclass(frozen=True, slots=True)
class Source:
    url: str
    cert_file: Path | None
    key_file: Path | None
    ca_file: Path | None
    timeout_s: float


def directory(people: Any) -> dict[str, dict[str, Any]]:
    """login -> {institute, country, dn} of every person with a login profile and an institute."""
    if not isinstance(people, dict):
        raise RefreshError("the CRIC answer is not a JSON object of people")
    entries: dict[str, dict[str, Any]] = {}
    for person in people.values():
        if not isinstance(person, dict) or "institute" not in person:
            continue
        login = _login(person.get("profiles"))
        if login:
            entries[login] = {
                "institute": person["institute"],
                "country": person.get("institute_country"),
                "dn": person.get("dn"),
            }
    return entries


def _login(profiles: Any) -> str | None:
    """The login of the first profile that has one (people have several profiles: CERN, IAM...)."""
    for profile in profiles if isinstance(profiles, list) else ():
        if isinstance(profile, dict) and "login" in profile:
            login = profile["login"]
            return login if isinstance(login, str) else None
    return None


def _tls(source: Source) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=str(source.ca_file) if source.ca_file else None)
        if source.cert_file is not None:
            key = str(source.key_file) if source.key_file is not None else None
            context.load_cert_chain(str(source.cert_file), key)
    except (OSError, ssl.SSLError) as exc:
        raise RefreshError(f"cannot load the CA or the robot certificate/key: {exc}") from None
    return context


def download(source: Source) -> bytes:
    request = urllib.request.Request(source.url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=source.timeout_s, context=_tls(source)) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise RefreshError(f"CRIC answered HTTP {exc.code} {exc.reason} for {_safe(source.url)}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RefreshError(f"cannot reach CRIC at {_safe(source.url)}: {reason}") from None


def _safe(url: str) -> str:
    """The URL without a query string or credentials, for messages."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file in the same directory and os.replace (atomic on POSIX)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def refresh(source: Source, path: Path) -> int:
    """Download, convert and install the directory; the number of users written."""
    body = download(source)
    try:
        people = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RefreshError(f"the CRIC answer is not JSON: {exc}") from None
    entries = directory(people)
    if not entries:
        raise RefreshError("the CRIC answer has no user with a login and an institute; cache file kept")
    try:
        write_atomically(path, orjson.dumps(entries, option=orjson.OPT_SORT_KEYS))
    except OSError as exc:
        raise RefreshError(f"cannot write {path}: {exc.strerror or exc}") from None
    return len(entries)
