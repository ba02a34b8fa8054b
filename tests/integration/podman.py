"""The spider image built and run with podman, as CI and the container tests need it.

Here no public image registry is reachable: the base is made from Debian packages (deploy/podman-base.sh),
containers run with runc (crun refuses this machine's hybrid cgroups) and a containers.conf without default
rlimits (the sandbox refuses podman's), and pip inside the build trusts the host's CA bundle through the
Dockerfile's ca_bundle build secret. Layers are cached in podman's storage, so a second build, in this run or
the next one on the same machine, redoes only what changed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "localhost/spider-base:bookworm"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CONTAINERS_CONF = "[containers]\ndefault_ulimits = []\n"


@dataclass(frozen=True)
class Podman:
    """podman with this machine's settings; `conf` is the containers.conf it is given."""

    conf: Path

    @classmethod
    def for_tests(cls, directory: Path) -> Podman:
        missing = [tool for tool in ("podman", "runc", "debootstrap") if shutil.which(tool) is None]
        assert not missing, (
            f"{', '.join(missing)} missing: scripts/test installs them (apt-get install podman runc debootstrap)"
        )
        conf = directory / "containers.conf"
        conf.write_text(CONTAINERS_CONF)
        return cls(conf)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(self.conf)}

    def run(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["podman", *args], capture_output=True, text=True, env=self.env, timeout=timeout)
        if check:
            assert done.returncode == 0, f"podman {' '.join(args)}: exit {done.returncode}\n{done.stderr[-3000:]}"
        return done

    def build(self, tag: str) -> float:
        """Build deploy/Dockerfile on the Debian base; returns the seconds it took (base included if made now)."""
        began = time.monotonic()
        base = subprocess.run([str(ROOT / "deploy" / "podman-base.sh"), BASE_IMAGE], capture_output=True, text=True,
                              env=self.env, timeout=600)  # fmt: skip
        assert base.returncode == 0, base.stdout + base.stderr
        git = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, cwd=ROOT)
        git_hash = git.stdout.strip() or "unknown"
        secret = ["--secret", f"id=ca_bundle,src={HOST_CA_BUNDLE}"] if HOST_CA_BUNDLE.exists() else []
        self.run(
            "build", "--runtime", "runc", "--network", "host", "--layers", "-f", str(ROOT / "deploy" / "Dockerfile"),
            "--ignorefile", str(ROOT / "deploy" / "Dockerfile.dockerignore"),
            "--build-arg", f"PYTHON_IMAGE={BASE_IMAGE}", "--build-arg", f"GIT_HASH={git_hash}",
            *secret, "-t", tag, str(ROOT), timeout=900,
        )  # fmt: skip
        return time.monotonic() - began

    def spider(self, image: str, *args: str, options: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        """`spider <args>` in a throw-away container: non-root (the image's user), read-only root file system."""
        return self.run("run", "--rm", "--runtime", "runc", "--read-only", *options, image, *args, check=False)
