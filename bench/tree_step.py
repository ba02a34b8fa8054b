"""The conversion step of whichever tree imports it, over raw messages in a file (one per line); bench/trees.py runs
it with the interpreter of each tree it compares. Run it as a file (`python path/to/tree_step.py ...`), from a
directory with no `services` package, so that `services` is the interpreter's installed one; it imports nothing
else of the project, so that an older tree can run it too.

    tree_step.py digest MESSAGES OUT [--users a,b]          one line per message: the outcome's digest
    tree_step.py show MESSAGES INDEX... [--users a,b]       the outcomes of these messages, as text
    tree_step.py time MESSAGES --warm FILE [--repeat-ads N]  JSON: CPU µs per ad at first sight and repeated
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

from services.common import gc_tuning
from services.common.dead_letter import Origin, service_identity
from services.converter.affiliations import Directory
from services.converter.convert import ConversionContext
from services.converter.pipeline import STAGE, Converted, DeadLettered, step

ORIGIN = Origin()
SERVICE = service_identity(STAGE)


def context(users: list[str]) -> ConversionContext:
    """A fixed context, so that two trees' documents can be compared byte for byte."""
    entry = {"institute": "Example University", "country": "CH"}
    entries = {user: {**entry, "dn": f"/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN={user}/CN=123456"} for user in users}
    return ConversionContext(
        affiliations=Directory(entries),
        git_hash="0123456789abcdef0123456789abcdef01234567",
        hostname="bench.example.org",
        username="bench",
        converter_version="bench",
    )


def outcome_text(value: bytes, ctx: ConversionContext) -> str:
    """What a message becomes, all of it that does not depend on the clock (a dead letter's time does)."""
    outcome = step(value, ctx, ORIGIN, SERVICE)
    if isinstance(outcome, Converted):
        return f"converted {outcome.source} {outcome.key!r} {outcome.headers!r}\n{outcome.value.decode()}"
    if isinstance(outcome, DeadLettered):
        return f"dead letter {outcome.reason} {outcome.key!r}: {outcome.message}"
    return f"dropped {outcome!r}"


def cpu_us_per_ad(values: list[bytes], ctx: ConversionContext, passes: int = 1) -> float:
    """CPU µs per message of the fastest of `passes` passes (CPU time: the other processes' turns do not count)."""
    best = float("inf")
    for _ in range(passes):
        started = time.process_time()
        for value in values:
            step(value, ctx, ORIGIN, SERVICE)
        best = min(best, time.process_time() - started)
    return best / len(values) * 1e6


def read(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["digest", "show", "time"])
    parser.add_argument("messages", type=Path)
    parser.add_argument("rest", nargs="*", help="digest: the output file; show: message indexes")
    parser.add_argument("--users", default="", help="logins in the affiliation directory")
    parser.add_argument("--warm", type=Path, help="time: messages converted first, untimed (names seen before)")
    parser.add_argument("--repeat-ads", type=int, default=1000, help="time: messages converted again, for a repeat")
    args = parser.parse_args()
    ctx = context([user for user in args.users.split(",") if user])
    values = read(args.messages)
    if args.action == "digest":
        with open(args.rest[0], "w") as out:
            for value in values:
                out.write(hashlib.blake2b(outcome_text(value, ctx).encode(), digest_size=16).hexdigest() + "\n")
    elif args.action == "show":
        for index in map(int, args.rest):
            print(f"--- message {index}\n{outcome_text(values[index], ctx)}")
    else:
        for value in read(args.warm) if args.warm else ():
            step(value, ctx, ORIGIN, SERVICE)
        gc_tuning.freeze_startup_heap()  # as the services do before their loops
        first = cpu_us_per_ad(values, ctx)
        seen = values[: args.repeat_ads]
        cpu_us_per_ad(seen, ctx)  # their shapes seen just before, as a schedd's repeated shapes are
        print(json.dumps({"first": first, "repeat": cpu_us_per_ad(seen, ctx, passes=3), "ads": len(values)}))


if __name__ == "__main__":
    main()
