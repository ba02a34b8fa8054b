"""`spider affiliations refresh` against a real HTTPS server on 127.0.0.1 that demands a client certificate."""

from __future__ import annotations

import http.server
import os
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from services.cli import app
from services.common.raw_message import RawAd
from services.converter import cric
from services.converter.affiliations import AffiliationCache
from services.converter.convert import ConversionContext, convert

CRIC_ANSWER = {
    "Jane Doe": {
        "name": "Jane Doe",
        "email": "jane.doe@cern.ch",
        "dn": "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=jdoe/CN=123456/CN=Jane Doe",
        "institute": "CERN",
        "institute_country": "Switzerland",
        "profiles": [{"type": "CERN", "login": "jdoe", "egroups": ["cms-zh"]}, {"type": "IAM", "login": "jane"}],
    },
    "Mario Rossi": {
        "name": "Mario Rossi",
        "dn": "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=mrossi/CN=654321/CN=Mario Rossi",
        "institute": "Universita e INFN Trieste",
        "institute_country": "Italy",
        "profiles": [{"type": "IAM"}, {"type": "CERN", "login": "mrossi"}],
    },
    "No Institute": {"name": "No Institute", "dn": "/CN=noinst", "profiles": [{"login": "noinst"}]},
    "No Login": {"name": "No Login", "dn": "/CN=nologin", "institute": "DESY", "profiles": []},
}
EXPECTED = {
    "jdoe": {
        "institute": "CERN",
        "country": "Switzerland",
        "dn": "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=jdoe/CN=123456/CN=Jane Doe",
    },
    "mrossi": {
        "institute": "Universita e INFN Trieste",
        "country": "Italy",
        "dn": "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=mrossi/CN=654321/CN=Mario Rossi",
    },
}
OLD_FILE = b'{"olduser": {"institute": "Old", "country": "Nowhere", "dn": "/CN=old"}}'


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA, a server certificate for 127.0.0.1 and a robot (client) certificate, all signed by the CA."""
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Test CA",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=d)  # fmt: skip
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, subject in (("server", "/CN=127.0.0.1"), ("robot", "/CN=cmsjobmon robot")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)  # fmt: skip
        extra = ["-extfile", "san.cnf"] if name == "server" else []
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-out", f"{name}.pem", *extra, cwd=d)  # fmt: skip
    return Pki(d / "ca.pem", d / "server.pem", d / "server.key", d / "robot.pem", d / "robot.key")


@dataclass
class Cric:
    url: str
    answer: list  # [status, body]; tests change it
    requests: list[str]


@pytest.fixture
def cric_server(pki: Pki) -> Iterator[Cric]:
    """CRIC's user API on 127.0.0.1 over TLS, refusing clients without a certificate signed by the CA."""
    state = Cric("", [200, orjson.dumps(CRIC_ANSWER)], [])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            status, body = state.answer
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.load_verify_locations(pki.ca)
    context.verify_mode = ssl.CERT_REQUIRED
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"https://127.0.0.1:{server.server_address[1]}/api/accounts/user/query/?json"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _source(cric_server: Cric, pki: Pki, client_cert: bool = True) -> cric.Source:
    return cric.Source(
        url=cric_server.url,
        cert_file=pki.client_cert if client_cert else None,
        key_file=pki.client_key if client_cert else None,
        ca_file=pki.ca,
        timeout_s=10.0,
    )


@pytest.fixture
def cache_file(tmp_path: Path) -> Path:
    path = tmp_path / ".affiliation_dir.json"
    path.write_bytes(OLD_FILE)
    os.utime(path, (1_600_000_000, 1_600_000_000))  # clearly older than the refreshed file
    return path


def _document(directory: object) -> dict:
    raw = RawAd(
        source="condor_history",
        pool="Global",
        schedd="crab3@vocms0122.cern.ch",
        collected_at=1_700_000_000.0,
        ad={
            "GlobalJobId": "crab3@vocms0122.cern.ch#1.0#1699990000",
            "JobStatus": 4,
            "QDate": 1_699_990_000,
            "CompletionDate": 1_699_995_000,
            "CRAB_UserHN": "mrossi",
        },
    )
    context = ConversionContext(directory, git_hash="g", hostname="h", username="u", converter_version="v")
    return convert(raw, context).body


def test_refresh_writes_the_login_directory_and_the_converter_picks_it_up(
    cric_server: Cric, pki: Pki, cache_file: Path
) -> None:
    cache = AffiliationCache(cache_file)
    assert "AffiliationInstitute" not in _document(cache.get())  # the old file knows no mrossi

    assert cric.refresh(_source(cric_server, pki), cache_file) == 2

    assert orjson.loads(cache_file.read_bytes()) == EXPECTED
    assert cric_server.requests == ["/api/accounts/user/query/?json"]
    document = _document(cache.get())
    assert (document["AffiliationInstitute"], document["AffiliationCountry"]) == ("Universita e INFN Trieste", "Italy")
    assert [p.name for p in cache_file.parent.iterdir()] == [cache_file.name]  # no temp file left behind


def test_an_http_error_keeps_the_old_file(cric_server: Cric, pki: Pki, cache_file: Path) -> None:
    cric_server.answer[:] = [503, b"maintenance"]
    with pytest.raises(cric.RefreshError, match="HTTP 503"):
        cric.refresh(_source(cric_server, pki), cache_file)
    assert cache_file.read_bytes() == OLD_FILE


def test_without_the_robot_certificate_the_server_refuses_and_the_old_file_stays(
    cric_server: Cric, pki: Pki, cache_file: Path
) -> None:
    with pytest.raises(cric.RefreshError, match="cannot reach CRIC"):
        cric.refresh(_source(cric_server, pki, client_cert=False), cache_file)
    assert cache_file.read_bytes() == OLD_FILE


@pytest.mark.parametrize("body", [b"<html>login page</html>", b"[]", b'{"Nobody": {"profiles": []}}'])
def test_an_answer_without_usable_users_keeps_the_old_file(
    cric_server: Cric, pki: Pki, cache_file: Path, body: bytes
) -> None:
    cric_server.answer[:] = [200, body]
    with pytest.raises(cric.RefreshError):
        cric.refresh(_source(cric_server, pki), cache_file)
    assert cache_file.read_bytes() == OLD_FILE


def test_a_missing_certificate_file_is_a_clear_error(cric_server: Cric, pki: Pki, cache_file: Path) -> None:
    source = _source(cric_server, pki)
    broken = cric.Source(source.url, pki.client_cert.with_name("absent.pem"), pki.client_key, pki.ca, 10.0)
    with pytest.raises(cric.RefreshError, match="robot certificate"):
        cric.refresh(broken, cache_file)
    assert cache_file.read_bytes() == OLD_FILE


def test_spider_affiliations_refresh_uses_the_converter_settings(
    cric_server: Cric, pki: Pki, cache_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "SPIDER_AFFILIATION_FILE": str(cache_file),
        "SPIDER_CRIC_URL": cric_server.url,
        "SPIDER_CRIC_CERT_FILE": str(pki.client_cert),
        "SPIDER_CRIC_KEY_FILE": str(pki.client_key),
        "SPIDER_CRIC_CA_FILE": str(pki.ca),
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["affiliations", "refresh"])
    assert result.exit_code == 0, result.output
    assert f"wrote 2 affiliations to {cache_file}" in result.output
    assert orjson.loads(cache_file.read_bytes()) == EXPECTED
