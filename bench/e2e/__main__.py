"""`python -m bench.e2e`: run the benchmark once, print the table, optionally write the JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.e2e.adfiles import FORMATS
from bench.e2e.run import Options, run
from deploy.demo.run import _stop_on_sigterm
from deploy.local.config import load_stack_config


def table(result: dict) -> Table:
    o = result["options"]
    title = (
        f"spider end to end: {result['ads']['total']} ads, {o['workers']} converter worker(s), "
        f"{o['sink_processes']} process(es) per sink, rate {o['rate'] or 'burst'}, {o['input']} input; "
        f"{result['total_s']} s, {result['end_to_end_docs_per_s']} docs/s"
    )
    t = Table(title=title, title_justify="left")
    for col in ("stage", "docs", "docs/s", "CPU s/1000 docs", "peak RSS MB", "p50 s", "p95 s", "p99 s"):
        t.add_column(col, justify="left" if col == "stage" else "right")
    for name, s in result["stages"].items():
        lat = s.get("latency_s", {})
        t.add_row(
            s.get("label", name),
            *(
                str(v)
                for v in (
                    s["documents"],
                    s["docs_per_s"],
                    s["cpu_s_per_1000_docs"],
                    s["peak_rss_mb"],
                    lat.get("p50"),
                    lat.get("p95"),
                    lat.get("p99"),
                )
            ),
        )
    for name, cpu in result["servers_cpu_s_per_1000_docs"].items():
        rss = result["processes"][f"server:{name}"]["peak_rss_mb"]
        t.add_row(f"(server) {name}", "", "", str(cpu), str(rss), "", "", "")
    return t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ads", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=1, help="converter worker processes")
    parser.add_argument("--sink-processes", type=int, default=1, help="processes per sink target")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rate", type=float, default=None, help="offered load, ads/s (default: one burst)")
    parser.add_argument("--samples", type=int, default=500, help="documents followed for the latency")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--profile", type=Path, help="directory for py-spy raw stacks of every service process")
    parser.add_argument("--keep", action="store_true", help="leave the topics and indices behind")
    parser.add_argument("--json", type=Path, help="write the result here")
    parser.add_argument("--cache", type=Path, help="where generated ad files are kept (default: stack dir/e2e-ads)")
    parser.add_argument(
        "--input",
        choices=tuple(FORMATS),
        default="ndjson",
        help="ad files the collectors replay: ndjson = raw messages, forwarded as read (production's collector "
        "cost); classad = old-syntax text, parsed by the collector first",
    )
    a = parser.parse_args()
    _stop_on_sigterm()  # `timeout` or a CI kill still stops the children (they run in sessions of their own)
    stack = load_stack_config()
    opts = Options(
        a.ads, a.workers, a.sink_processes, a.partitions, a.rate, a.samples, a.timeout, 0, a.profile, a.keep, a.input
    )
    console = Console(width=max(Console().width, 120))

    def tick(snap, elapsed: float) -> None:
        if int(elapsed) % 10 > 1:
            return
        landed = ", ".join(f"{t.label} {t.landed}" for t in snap.targets)
        console.print(
            f"{elapsed:6.1f}s published {snap.published} converted {snap.documents} | {landed}", highlight=False
        )

    result = run(opts, stack, a.cache or stack.state_dir / "e2e-ads", on_tick=tick)
    console.print(table(result))
    if a.json:
        a.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
