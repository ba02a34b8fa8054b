"""Server binaries from Maven Central, cached once and checked against the sha256 recorded at download.

Maven verifies the repository checksums when it downloads; we record the sha256 of what we unpacked or put on
a class path (SHA256SUMS next to it) and re-check it before every start, so a corrupted cache is caught early
with a message that says how to rebuild it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import zipfile
from importlib import resources
from pathlib import Path

from deploy.local.config import KAFKA_VERSION, LOG4J_VERSION
from services.common.errors import SpiderError

SUMS = "SHA256SUMS"


class ArtifactError(SpiderError):
    """An artifact could not be resolved or its cached copy does not match its recorded checksum."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_sums(directory: Path, files: list[Path]) -> None:
    lines = [f"{sha256(f)}  {f.relative_to(directory)}" for f in sorted(files)]
    (directory / SUMS).write_text("\n".join(lines) + "\n")


def verify_sums(directory: Path) -> None:
    for line in (directory / SUMS).read_text().splitlines():
        expected, name = line.split("  ", 1)
        path = directory / name
        if not path.is_file() or sha256(path) != expected:
            raise ArtifactError(
                f"cached artifact {path} is missing or does not match its recorded sha256; "
                f"remove {directory} and run `spider stack up` again to download it afresh"
            )


def _mvn(args: list[str], coordinate: str, retry: str) -> None:
    if shutil.which("mvn") is None:
        raise ArtifactError(f"cannot resolve {coordinate}: `mvn` is not installed (apt-get install -y maven)")
    result = subprocess.run(["mvn", "-B", "-q", *args], capture_output=True, text=True)
    if result.returncode != 0:
        tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-3:])
        raise ArtifactError(f"cannot resolve {coordinate} from Maven Central ({tail}); retry with: {retry}")


def kafka_classpath(cache_dir: Path) -> Path:
    """The directory of jars the broker runs from: kafka_2.13, its runtime dependencies and a log4j2 binding."""
    target = cache_dir / f"kafka-{KAFKA_VERSION}"
    libs = target / "libs"
    if not (target / SUMS).exists():
        shutil.rmtree(target, ignore_errors=True)
        libs.mkdir(parents=True)
        pom = target / "pom.xml"
        pom.write_bytes(resources.files("deploy.local").joinpath("kafka-pom.xml").read_bytes())
        args = [
            "-f", str(pom), "dependency:copy-dependencies", "-DincludeScope=runtime",
            f"-DoutputDirectory={libs}", f"-Dkafka.version={KAFKA_VERSION}", f"-Dlog4j.version={LOG4J_VERSION}",
        ]  # fmt: skip
        _mvn(args, f"org.apache.kafka:kafka_2.13:{KAFKA_VERSION}", "mvn " + " ".join(args))
        record_sums(target, list(libs.glob("*.jar")))
    verify_sums(target)
    return libs


def distribution(cache_dir: Path, group: str, artifact: str, version: str) -> Path:
    """An integ-test zip distribution (no bundled JDK, no plugins), unpacked once into the cache."""
    coordinate = f"{group}:{artifact}:{version}:zip"
    target = cache_dir / f"{artifact}-{version}"
    zip_path = cache_dir / f"{artifact}-{version}.zip"
    if not (target / SUMS).exists():
        shutil.rmtree(target, ignore_errors=True)
        cache_dir.mkdir(parents=True, exist_ok=True)
        args = ["dependency:copy", f"-Dartifact={coordinate}", f"-DoutputDirectory={cache_dir}", "-Dmdep.overWrite"]
        _mvn(args, coordinate, f"mvn dependency:get -Dartifact={coordinate}")
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(cache_dir)
        _restore_modes(zip_path, cache_dir)
        kept = Path(shutil.move(zip_path, target / zip_path.name))
        record_sums(target, [kept])
    verify_sums(target)
    return target


def _restore_modes(zip_path: Path, root: Path) -> None:
    """zipfile drops Unix permissions; the launch scripts and the whole tree must stay usable by another user."""
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                (root / info.filename).chmod(mode | 0o444 | (0o111 if info.is_dir() else 0))
