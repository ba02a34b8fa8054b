"""User -> institute/country directory (the reference's .affiliation_dir.json cache of CRIC).

File format: {"<login>": {"institute": ..., "country": ..., "dn": ...}, ...}. The converter looks
users up by CRAB_UserHN login, else by x509userproxysubject DN, so the directory keeps a DN index.
`AffiliationCache` reloads the file when its mtime changes; a missing or corrupt file gives one
warning and an empty directory, and conversion goes on without affiliation fields.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)


class Directory(Mapping[str, dict]):
    """Read-only login -> entry mapping with a DN index built once per file version."""

    def __init__(self, entries: Mapping[str, Any]) -> None:
        self._by_login = {login: entry for login, entry in entries.items() if isinstance(entry, dict)}
        self.by_dn = {entry["dn"]: entry for entry in self._by_login.values() if isinstance(entry.get("dn"), str)}

    def __getitem__(self, login: str) -> dict:
        return self._by_login[login]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_login)

    def __len__(self) -> int:
        return len(self._by_login)


EMPTY = Directory({})


def lookup(directory: Mapping[str, dict] | None, login: Any, dn: Any) -> dict | None:
    """The entry of a login, else of a DN (any mapping works; a Directory answers DNs without a scan)."""
    if not directory:
        return None
    if isinstance(login, str):
        return directory.get(login)
    if isinstance(dn, str):
        by_dn = getattr(directory, "by_dn", None)
        if by_dn is not None:
            return by_dn.get(dn)
        return next((entry for entry in directory.values() if entry.get("dn") == dn), None)
    return None


def affiliation_fields(directory: Mapping[str, dict] | None, login: Any, dn: Any) -> dict[str, Any]:
    entry = lookup(directory, login, dn)
    if not isinstance(entry, dict) or "institute" not in entry:
        return {}
    return {"AffiliationInstitute": entry.get("institute"), "AffiliationCountry": entry.get("country")}


def parse(data: bytes) -> Directory:
    entries = orjson.loads(data)
    if not isinstance(entries, dict):
        raise ValueError("the affiliation file is not a JSON object")
    return Directory(entries)


class AffiliationCache:
    """The directory file, re-read whenever its modification time changes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._mtime: float | None = None
        self._directory: Directory = EMPTY
        self._warned = False

    def get(self) -> Directory:
        try:
            mtime = self.path.stat().st_mtime
        except OSError as exc:
            self._fail(f"affiliation file {self.path} unavailable ({exc.strerror}); no affiliation fields")
            return self._directory
        if mtime != self._mtime:
            try:
                self._directory = parse(self.path.read_bytes())
            except (OSError, ValueError) as exc:
                self._fail(f"affiliation file {self.path} unreadable ({exc}); no affiliation fields")
                self._mtime = mtime  # not re-read until it changes
                return self._directory
            self._mtime = mtime
            self._warned = False
            log.info("loaded %d affiliations from %s", len(self._directory), self.path)
        return self._directory

    def _fail(self, message: str) -> None:
        if not self._warned:
            log.warning(message)
            self._warned = True
        self._directory = EMPTY
        self._mtime = None
