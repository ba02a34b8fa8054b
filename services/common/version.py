"""Identity of this build: package version, git hash, host and user, as stamped on every message."""

from __future__ import annotations

import functools
import getpass
import os
import socket
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def package_version() -> str:
    """Read once: importlib.metadata parses the METADATA file on every call (~0.4 ms, per ad in encode())."""
    try:
        return metadata.version("spider")
    except metadata.PackageNotFoundError:
        return "0.0.0+unknown"


@functools.cache
def git_hash() -> str:
    """The commit this code was built from: baked into images as SPIDER_GIT_HASH, else asked of git."""
    baked = os.environ.get("SPIDER_GIT_HASH")
    if baked:
        return baked
    try:
        out = subprocess.run(
            ["git", "-C", str(PACKAGE_ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


@functools.cache
def hostname() -> str:
    return socket.getfqdn()


@functools.cache
def username() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
