"""The secure stack's local CA, its server certificate and keystore, and the generated credentials.

Everything is made once per state dir with the `openssl` command (no Python crypto package needed) and kept:
`<state dir>/tls/` holds the CA (ca.pem, the file clients trust), the server certificate for the stack's host
and `localhost`, and a PKCS#12 keystore of it for the JVM servers; `<state dir>/credentials/` holds one file per
secret (user names and random passwords), mode 0600, which the services read through their `*_file` settings.
"""

from __future__ import annotations

import ipaddress
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from services.common.errors import SpiderError

USER = "spider"
# credentials/<name>: what each client of the secure stack logs in with
SECRETS = ("kafka_password", "search_password", "amq_password", "kafka_broker_password", "keystore_password")


class TlsError(SpiderError):
    """openssl failed to make the stack's CA, certificate or keystore."""


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise TlsError(f"openssl {args[0]} failed: {done.stderr.strip()[-500:]}")


def make_ca(directory: Path, name: str = "spider local stack CA") -> tuple[Path, Path]:
    """A self-signed CA (EC P-256, 10 years) as `ca.pem` and `ca.key` in `directory`; (certificate, key)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "ca.pem", directory / "ca.key"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "3650",
        "-subj", f"/CN={name} {secrets.token_hex(4)}", "-keyout", key.name, "-out", cert.name,
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    key.chmod(0o600)
    return cert, key


def _san(names: list[str]) -> str:
    entries = []
    for name in names:
        try:
            ipaddress.ip_address(name)
            entries.append(f"IP:{name}")
        except ValueError:
            entries.append(f"DNS:{name}")
    return ",".join(entries)


def issue(ca_cert: Path, ca_key: Path, directory: Path, names: list[str]) -> tuple[Path, Path]:
    """A server certificate for `names` (IP addresses and DNS names) signed by the CA; (certificate, key)."""
    cert, key, csr, ext = (directory / f"server.{s}" for s in ("pem", "key", "csr", "ext"))
    ext.write_text(
        f"subjectAltName={_san(names)}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={names[0]}",
        "-keyout", key.name, "-out", csr.name, cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", csr.name, "-CA", str(ca_cert), "-CAkey", str(ca_key),
        "-set_serial", str(secrets.randbits(63)), "-days", "825", "-extfile", ext.name, "-out", cert.name,
        cwd=directory,
    )  # fmt: skip
    key.chmod(0o600)
    csr.unlink()
    ext.unlink()
    return cert, key


@dataclass(frozen=True)
class Material:
    """Paths of the secure stack's TLS files and credentials."""

    state_dir: Path

    @property
    def tls_dir(self) -> Path:
        return self.state_dir / "tls"

    @property
    def credentials_dir(self) -> Path:
        return self.state_dir / "credentials"

    @property
    def ca_cert(self) -> Path:
        return self.tls_dir / "ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.tls_dir / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.tls_dir / "server.key"

    @property
    def keystore(self) -> Path:
        return self.tls_dir / "server.p12"

    @property
    def username_file(self) -> Path:
        return self.credentials_dir / "username"

    def secret_file(self, name: str) -> Path:
        return self.credentials_dir / name

    def secret(self, name: str) -> str:
        return self.secret_file(name).read_text().strip()

    def ensure(self, names: list[str]) -> None:
        """Make what is missing: credentials, CA, server certificate for `names`, keystore. Idempotent."""
        self.credentials_dir.mkdir(parents=True, exist_ok=True)
        self.credentials_dir.chmod(0o700)
        if not self.username_file.exists():
            self.username_file.write_text(USER + "\n")
        for name in SECRETS:
            path = self.secret_file(name)
            if not path.exists():
                path.touch(mode=0o600)
                path.write_text(secrets.token_urlsafe(24) + "\n")
        if not self.ca_cert.exists():
            make_ca(self.tls_dir)
        if not self.server_cert.exists():
            issue(self.ca_cert, self.tls_dir / "ca.key", self.tls_dir, names)
        if not self.keystore.exists():
            _openssl(
                "pkcs12", "-export", "-in", self.server_cert.name, "-inkey", self.server_key.name,
                "-certfile", self.ca_cert.name, "-name", "server", "-out", self.keystore.name,
                "-passout", f"file:{self.secret_file('keystore_password')}", cwd=self.tls_dir,
            )  # fmt: skip
            self.keystore.chmod(0o600)
