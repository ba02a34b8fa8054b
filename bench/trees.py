"""Two builds of the converter compared on the same messages: same documents, and which is faster.

    python -m bench.trees same  --old OLD/bin/python --new NEW/bin/python [--ads 40000] [--kinds ...] [--modes ...]
    python -m bench.trees speed --old OLD/bin/python --new NEW/bin/python [--ads 20000] [--rounds 3] [--cpu 1]

Each interpreter is that of a tree installed on its own (`python -m venv V && V/bin/pip install -e TREE`, which
compiles that tree in place), so a change can be checked compiled against the commit before it without touching
the shared checkout. The messages come from this checkout's bench/ads.py and are written once to files; each tree
converts them in its own process with bench/tree_step.py (fixed context).

`same`: every outcome (document bytes, key and headers; dead-letter reasons; drops) is compared by digest, per kind
(history, queue, mixed) and mode (diverse, uniform); the first differences are printed in full; exit 1 if any.
`speed`: CPU µs per ad, the two trees alternating in separate processes pinned to one core (`taskset`), after a
warm-up on other ads: at first sight of each ad (diverse ads: each attribute list new) and repeated (the same
1,000 ads again). It prints each round's new/old speed ratio, the ratio being what to compare on a shared machine.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import classad2

from bench.ads import BASE_TIME, USERS, iter_ads, shape_summary
from services.common import raw_message

WORKER = Path(__file__).with_name("tree_step.py")
SOURCES = {"history": "condor_history", "queue": "condor_queue", "mixed": "file"}


def write_messages(path: Path, n: int, seed: int, kind: str, diverse: bool) -> str:
    """`n` raw messages of bench ads, one per line; returns the ads' shape summary."""
    with path.open("wb") as out:

        def written() -> Iterator[classad2.ClassAd]:
            for ad in iter_ads(n, seed, kind, diverse=diverse):  # type: ignore[arg-type]
                schedd = ad["GlobalJobId"].split("#")[0]
                _, value = raw_message.encode(
                    ad, source=SOURCES[kind], pool="Global", schedd=schedd, collected_at=BASE_TIME + 0.25
                )
                out.write(value + b"\n")
                yield ad

        return shape_summary(written())


def _run(python: str, *args: str, cpu: int | None = None) -> str:
    command = [python, str(WORKER), *args, "--users", ",".join(USERS)]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tempfile.gettempdir(), check=False)
    if done.returncode != 0:
        sys.exit(f"{python} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def same(args: argparse.Namespace, work: Path) -> int:
    differing = 0
    for mode in args.modes.split(","):
        for kind in args.kinds.split(","):
            messages = work / f"{kind}-{mode}.ndjson"
            summary = write_messages(messages, args.ads, args.seed, kind, mode == "diverse")
            digests = []
            for tree, python in (("old", args.old), ("new", args.new)):
                _run(python, "digest", str(messages), str(work / f"{tree}.digests"))
                digests.append((work / f"{tree}.digests").read_text().splitlines())
            old, new = digests
            diff = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
            differing += len(diff)
            verdict = "identical" if not diff else f"{len(diff)} DIFFER, first at message {diff[0]}"
            print(f"{kind:8} {mode:8} {len(old):,} messages: {verdict} ({summary})", flush=True)
            for i in diff[:3]:
                shown = [_run(python, "show", str(messages), str(i)).splitlines() for python in (args.old, args.new)]
                print("\n".join(difflib.unified_diff(*shown, "old", "new", lineterm="", n=1))[:4000])
    return 1 if differing else 0


def speed(args: argparse.Namespace, work: Path) -> int:
    messages, warm = work / "measured.ndjson", work / "warm.ndjson"
    summary = write_messages(messages, args.ads, args.seed, args.kind, args.mode == "diverse")
    write_messages(warm, min(args.ads, 5000), args.seed + 1000, args.kind, args.mode == "diverse")
    print(f"{args.ads:,} {args.kind} ads, {args.mode}: {summary}; load average {_load()}", flush=True)
    ratios: dict[str, list[float]] = {"first": [], "repeat": []}
    for round_ in range(args.rounds):
        order = (("old", args.old), ("new", args.new))
        runs = {}
        for tree, python in order if round_ % 2 == 0 else order[::-1]:
            runs[tree] = json.loads(_run(python, "time", str(messages), "--warm", str(warm), cpu=args.cpu))
        line = []
        for what in ratios:
            old, new = runs["old"][what], runs["new"][what]
            ratios[what].append(old / new)
            rates = f"old {old:.1f} µs ({1e6 / old:,.0f}/s), new {new:.1f} µs ({1e6 / new:,.0f}/s)"
            line.append(f"{what}: {rates}, {old / new:.2f}x")
        print(f"round {round_ + 1}: " + "; ".join(line) + f"; load {_load()}", flush=True)
    for what, found in ratios.items():
        print(f"new/old speed, {what}: {min(found):.2f} - {max(found):.2f}x over {len(found)} rounds")
    return 0


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["same", "speed"])
    parser.add_argument("--old", required=True, help="python of the tree before the change")
    parser.add_argument("--new", required=True, help="python of the tree after the change")
    parser.add_argument("--ads", type=int, help="messages per kind and mode (same: 40,000; speed: 20,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kinds", default="history,queue,mixed", help="same: the kinds compared")
    parser.add_argument("--modes", default="diverse,uniform", help="same: the modes compared")
    parser.add_argument("--kind", default="history", choices=list(SOURCES), help="speed: the kind measured")
    parser.add_argument("--mode", default="diverse", choices=["diverse", "uniform"], help="speed: the mode measured")
    parser.add_argument("--rounds", type=int, default=3, help="speed: old/new pairs")
    parser.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)), help="speed: the core used")
    args = parser.parse_args()
    args.ads = args.ads or (40_000 if args.action == "same" else 20_000)
    with tempfile.TemporaryDirectory(prefix="spider-trees-") as tmp:
        sys.exit((same if args.action == "same" else speed)(args, Path(tmp)))


if __name__ == "__main__":
    main()
