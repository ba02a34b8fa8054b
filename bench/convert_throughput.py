"""Conversion throughput on one core: raw message bytes in -> document message bytes out.

    python -m bench.convert_throughput [--ads 20000] [--kind history] [--uniform] [--repeat 3] [--profile out.html]

Runs `services.converter.pipeline.step` (envelope decode -> convert -> document encode), the very function
the `spider converter` agents call per message, over realistic ads from bench/ads.py (200-230 attributes,
6-9 KB; diverse by default: nearly every ad with an attribute list of its own, as in a schedd's history;
`--uniform` for the few hundred lists of earlier benchmarks). After a warm-up on other ads (the names a running
worker has seen), each of the `--repeat` runs converts ads it has not seen (the fastest is reported); then the
same 1,000 ads again, for the cost of a repeated attribute list. The process is pinned to one CPU and its
garbage collector set up as the services do it (services/common/gc_tuning.py). Targets (issue 15): >= 8,000
ads/s on diverse ads, >= 12,000 on uniform ones. It measures the modules as installed:
compiled by setup.py unless SPIDER_PURE_PYTHON=1 is set (the first line printed says which). Also times what
`spider convert` does with a schedd history file in ClassAd text (parse + wrap + step + write), which is
bounded by classad2's parser rather than by the conversion.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import tree_step
from bench.ads import BASE_TIME, USERS, history_text, iter_ads, raw_messages, realistic_ads, shape_summary
from bench.tree_step import cpu_us_per_ad
from services import compilation
from services.common import gc_tuning, raw_message
from services.common.adfile import read_ads
from services.common.dead_letter import Origin, service_identity
from services.converter.convert import ConversionContext
from services.converter.offline import Envelope, convert_records
from services.converter.pipeline import STAGE, Converted, DeadLettered, step


def bench_step(runs: list[list[bytes]], warm: list[bytes], context: ConversionContext) -> None:
    origin, service = Origin(), service_identity(STAGE)
    outcomes = [step(value, context, origin, service) for value in runs[0]]
    converted = sum(isinstance(outcome, Converted) for outcome in outcomes)
    dead = [outcome for outcome in outcomes if isinstance(outcome, DeadLettered)]
    if dead:
        sys.exit(f"{len(dead)} dead letters in the benchmark input, first: {dead[0].message}")
    out_bytes = sum(len(outcome.value) for outcome in outcomes if isinstance(outcome, Converted))
    del outcomes, dead  # not kept alive during the timed runs, where the garbage collector would scan them
    for value in warm:
        step(value, context, origin, service)
    first = min(cpu_us_per_ad(values, context) for values in runs[1:] or runs)
    seen = runs[0][:1000]
    cpu_us_per_ad(seen, context)
    repeat = cpu_us_per_ad(seen, context, passes=3)
    count, rate = len(runs[-1]), 1e6 / first
    in_bytes = sum(map(len, runs[-1]))
    print(
        f"pipeline.step: {count} raw messages ({in_bytes / count / 1024:.1f} KiB avg) -> {converted} documents "
        f"({out_bytes / max(converted, 1) / 1024:.1f} KiB avg): {first:.1f} µs CPU per ad = {rate:,.0f} ads/s "
        f"(fastest of {max(len(runs) - 1, 1)} runs on ads not seen before); the same 1,000 ads again: "
        f"{repeat:.1f} µs = {1e6 / repeat:,.0f} ads/s"
    )


def bench_memory(n: int, every: int, context: ConversionContext) -> None:
    """RSS while `n` diverse ads, generated as they go, pass through the step: every memo must stay bounded."""
    origin, service = Origin(), service_identity(STAGE)
    started = time.process_time()
    for i, ad in enumerate(iter_ads(n, seed=11, kind="history"), start=1):
        _, value = raw_message.encode(ad, source="condor_history", pool="Global", schedd="s", collected_at=BASE_TIME)
        step(value, context, origin, service)
        if i % every == 0:
            print(f"{i:>9,} ads: RSS {_rss_mb():.0f} MB ({time.process_time() - started:.0f} s CPU)", flush=True)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _best_of(repeat: int, run: Callable[[], int]) -> tuple[float, int]:
    """Shortest CPU time of `repeat` runs: on a shared machine the wall time also counts the other
    processes' turns on this core, the CPU time only this process's work (the two agree when idle)."""
    best, count = float("inf"), 0
    for _ in range(repeat):
        started = time.process_time()
        count = run()
        best = min(best, time.process_time() - started)
    return best, count


def bench_offline(ads: list, context: ConversionContext, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history"
        path.write_text(history_text(ads), encoding="utf-8")
        envelope = Envelope("condor_history", "Global", None, float(BASE_TIME))
        service = service_identity(STAGE)

        def run() -> int:
            out, err = io.BytesIO(), io.StringIO()
            summary = convert_records(read_ads(path), envelope, context, service, out, err, str(path))
            return summary.documents + summary.dropped + summary.skipped

        seconds, count = _best_of(repeat, run)
        size = path.stat().st_size
    print(
        f"spider convert (history file, {size / 1e6:.0f} MB ClassAd text): {count} ads in {seconds:.2f} s CPU: "
        f"{count / seconds:,.0f} ads/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ads", type=int, default=20000)
    parser.add_argument("--kind", default="history", choices=["mixed", "history", "queue", "crab", "production"])
    parser.add_argument("--uniform", action="store_true", help="the uniform ads of earlier benchmarks")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (each on new ads); the fastest")
    parser.add_argument("--no-offline", action="store_true", help="skip the `spider convert` measurement")
    parser.add_argument("--profile", type=Path, help="write a pyinstrument HTML profile of one step run")
    parser.add_argument("--memory", type=int, metavar="N", help="only: RSS over N diverse ads, every 100,000")
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    if args.memory:
        gc_tuning.freeze_startup_heap()
        bench_memory(args.memory, 100_000, tree_step.context(USERS))
        return
    diverse = not args.uniform
    runs = []
    for seed in range(1, max(args.repeat, 1) + 1):
        ads = realistic_ads(args.ads, seed=seed, kind=args.kind, diverse=diverse)
        if seed == 1:
            print(f"ads: {shape_summary(ads)}")
            offline = ads[: args.ads // 4]
        runs.append([value for _, value in raw_messages(ads, source="condor_history")])
    warm = [value for _, value in raw_messages(realistic_ads(5000, seed=0, kind=args.kind, diverse=diverse))]
    del ads
    context = tree_step.context(USERS)
    print(f"conversion: {compilation.STATUS}")  # SPIDER_PURE_PYTHON=1 measures the sources as Python
    gc_tuning.freeze_startup_heap()  # as `spider converter` and `spider convert` do before their loops

    if args.profile:
        from pyinstrument import Profiler

        with Profiler(interval=0.0005) as profiler:
            bench_step(runs[:1], [], context)
        args.profile.write_text(profiler.output_html(), encoding="utf-8")
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        return
    bench_step(runs, warm, context)
    if not args.no_offline:
        bench_offline(offline, context, max(1, args.repeat - 1))


if __name__ == "__main__":
    main()
