"""`spider demo`: the whole pipeline on the local stack, from bundled CMS ads to both search engines and ActiveMQ.

Steps: bring the stack up; wipe what an earlier demo of the same name left; write the demo workdir; start the
three sinks, the converter and one collector per sample file as separate `spider` processes; show per-stage
counts until every document is in both indices and was sent to ActiveMQ; stop the processes with SIGTERM;
print where to look. Fails (exit 1) naming the stage that did not finish within the timeout.
"""

from __future__ import annotations

import json
import signal
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from deploy.demo import cleanup, processes, workdir
from deploy.demo.processes import Child
from deploy.demo.progress import Observer, Snapshot, TargetProgress, scrape
from deploy.demo.workdir import DemoNames
from deploy.local import stack
from deploy.local.config import StackConfig
from services.common.config import ClusterConfig, KafkaSettings, load_es_clusters
from services.common.errors import ExitStatus, SpiderError
from services.common.groups import GroupNames
from services.common.topic_admin import create_topics

TICK_S = 1.0
EXAMPLE_FIELDS = (
    "GlobalJobId", "Type", "Status", "CMS_Pool", "ScheddName", "CRAB_UserHN", "CRAB_Workflow",
    "WMAgent_RequestName", "Site", "RequestCpus", "CoreHr", "CpuEff", "ExitCode", "CMSSWVersion", "QDate",
    "RecordTime",
)  # fmt: skip


class DemoFailed(SpiderError):
    """A stage did not finish in time or a process died; the message says which and where its log is."""


@dataclass
class Pipeline:
    names: DemoNames
    stack: StackConfig
    workdir: Path
    kafka: KafkaSettings
    children: list[Child]
    targets: list[TargetProgress]
    clusters: list[ClusterConfig]
    groups: list[str]  # converter's first, then one per sink target in `targets` order

    @property
    def collectors(self) -> list[Child]:
        return [c for c in self.children if c.name.startswith("collector")]

    def metrics(self) -> dict[str, list]:
        return {c.name: scrape(c.metrics_port) for c in self.children if c.metrics_port is not None}


def _stop_on_sigterm() -> None:
    def handler(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def prepare(names: DemoNames, stack_cfg: StackConfig, console: Console) -> Pipeline:
    console.print(f"[bold]Local stack[/] (state in {stack_cfg.state_dir})")
    outcomes = stack.up(stack_cfg)
    for o in outcomes:
        console.print(f"  {o.name:<14} {o.state:<8} {o.listens}")
    stack.raise_failures(outcomes)
    path = workdir.write(names, stack_cfg)
    kafka = KafkaSettings(bootstrap_servers=stack_cfg.endpoints()["kafka"], topic_prefix=names.topic_prefix)
    group_names = GroupNames(kafka, converter=names.converter_group, sink_prefix=names.sink_group_prefix)
    targets = [
        TargetProgress("Elasticsearch", "es-local-es", "elasticsearch"),
        TargetProgress("OpenSearch", "opensearch-local-os", "opensearch"),
        TargetProgress("ActiveMQ", "amq", "amq"),
    ]
    clusters = load_es_clusters(path / "etc" / "es_conf.json")
    groups = [names.converter_group] + [group_names.sink(t.target) for t in targets]
    cleanup.clean(names, kafka, clusters, groups)
    create_topics(kafka)
    console.print(f"[bold]Workdir[/] {path}  (topics {names.topic_prefix}*, indices {names.index_pattern})")
    logs = path / "logs"
    children = [Child(t.target, ["sink", t.kind if t.kind != "elasticsearch" else "es"], logs / f"sink-{t.target}.log",
                      processes.free_port()) for t in targets]  # fmt: skip
    children.append(Child("converter", ["converter"], logs / "converter.log", processes.free_port()))
    for sample in workdir.SAMPLES:
        args = ["collector", "--from-file", str(sample.path), "--source", sample.source, "--pool", sample.pool]
        children.append(Child(f"collector {sample.path.name}", args, logs / f"collector-{sample.path.stem}.log"))
    return Pipeline(names, stack_cfg, path, kafka, children, targets, clusters, groups)


def _check_children(pipeline: Pipeline) -> bool:
    """True once every collector finished; raises if any process failed."""
    for child in pipeline.children:
        code = child.exit_code()
        if code is None:
            continue
        is_collector = child in pipeline.collectors
        # a collector may end partial: some ads of the demo's files are broken on purpose
        if not is_collector or code not in (ExitStatus.OK, ExitStatus.PARTIAL):
            raise DemoFailed(f"{child.name} exited with status {code}; its log ({child.log}):\n{child.log_tail()}")
    return all(c.exit_code() is not None for c in pipeline.collectors)


def render(snap: Snapshot, elapsed: float, timeout: float) -> Table:
    table = Table(title=f"spider demo  {elapsed:4.0f}s (timeout {timeout:.0f}s)", title_justify="left")
    table.add_column("stage")
    table.add_column("documents", justify="right")
    table.add_column("lag", justify="right")
    table.add_column("")

    def mark(done: bool) -> Text:
        return Text("done", style="green") if done else Text("...", style="yellow")

    table.add_row("published by the collectors (raw ads)", str(snap.published), "", mark(snap.collectors_done))
    lag = "" if snap.converter_lag is None else str(snap.converter_lag)
    table.add_row("converted (documents)", str(snap.documents), lag, mark(snap.converted()))
    table.add_row("  dropped on purpose (DAG roots)", str(snap.dropped), "", "")
    table.add_row("  dead letters: collector + converter", str(snap.dlq_converter), "", "")
    for t in snap.targets:
        landed = "?" if t.landed is None else str(t.landed)
        verb = "sent to" if t.kind == "amq" else "indexed in"
        table.add_row(f"{verb} {t.label}", f"{landed}/{snap.documents - t.rejected}", "" if t.lag is None else
                      str(t.lag), mark(snap.converted() and t.done(snap.documents)))  # fmt: skip
    table.add_row("  dead letters: sinks", str(snap.dlq_sinks), "", "")
    return table


def watch(pipeline: Pipeline, observer: Observer, timeout: float, console: Console) -> Snapshot:
    started = time.monotonic()
    snap = Snapshot()
    with Live(render(snap, 0, timeout), console=console, refresh_per_second=4, transient=False) as live:
        while True:
            done = _check_children(pipeline)
            try:
                snap = observer.snapshot(done, pipeline.metrics(), pipeline.targets)
            except SpiderError as exc:  # e.g. new partitions without a leader yet: ask again next tick
                problem = str(exc)
            else:
                problem = ""
            elapsed = time.monotonic() - started
            live.update(render(snap, elapsed, timeout))
            if snap.landed():
                return snap
            if elapsed > timeout:
                problems = [f"{c.name}: {c.last_problem()}" for c in pipeline.children if c.last_problem()]
                problem = "; ".join(([problem] if problem else []) + problems)
                raise DemoFailed(
                    f"not everything landed within {timeout:.0f}s; waiting for: {', '.join(snap.waiting_for())}"
                    f"{'; last problems: ' + problem if problem else ''}. Logs: {pipeline.workdir / 'logs'}"
                )
            time.sleep(TICK_S)


def _example(observer: Observer) -> dict[str, Any] | None:
    analysis = {"bool": {"filter": [{"term": {"Type": "analysis"}}, {"term": {"Status": "Completed"}}]}}
    return observer.example("elasticsearch", analysis) or observer.example("elasticsearch", {"match_all": {}})


def summary(pipeline: Pipeline, observer: Observer, snap: Snapshot, seconds: float) -> list[str | Text]:
    """The closing report; lines are printed unwrapped so the curl commands can be copied."""
    ends = pipeline.stack.endpoints()
    pattern = pipeline.names.index_pattern
    lines: list[str | Text] = [Text(f"\nAll {snap.documents} documents landed in {seconds:.0f}s.", style="bold green")]
    for t in snap.targets:
        if t.kind == "amq":
            lines.append(
                f"ActiveMQ       {ends['activemq']}  {pipeline.names.amq_destination}  {t.landed} messages sent"
            )
            continue
        per_index = observer.per_index(t.kind)
        lines.append(f"{t.label:<14} {ends[t.kind]}  {pattern}  {t.landed} documents in {len(per_index)} indices")
        lines.extend(f"    {index:<36} {count}" for index, count in per_index.items())
    prefix = pipeline.names.topic_prefix
    lines.append(
        f"Dead letters   {prefix}dlq.converter {snap.dlq_converter} (collector + converter), "
        f"{prefix}dlq.sinks {snap.dlq_sinks}; {snap.dropped} ad dropped on purpose (DAG root)"
    )
    hit = _example(observer)
    if hit is not None:
        source = hit["_source"]
        shown = {k: source[k] for k in EXAMPLE_FIELDS if k in source}
        lines.append(Text(f"\nExample document ({len(source)} fields; these {len(shown)} shown):", style="bold"))
        lines.append(json.dumps(shown, indent=2))
        doc_url = f"{ends['elasticsearch']}/{hit['_index']}/_doc/{urllib.parse.quote(hit['_id'], safe='')}?pretty"
        lines.append(Text("\nThe whole document:", style="bold"))
        lines.append(f"  curl -s '{doc_url}'")
    aggs = '{"aggs":{"type":{"terms":{"field":"Type"},"aggs":{"status":{"terms":{"field":"Status"}}}}}}'
    lines.append(Text("\nQueries to try:", style="bold"))
    lines.append(f"  curl -s '{ends['elasticsearch']}/{pattern}/_count?q=Status:Held&pretty'")
    search = f"{ends['opensearch']}/{pattern}/_search?size=0&pretty"
    lines.append(f"  curl -s -H 'Content-Type: application/json' '{search}' -d '{aggs}'")
    lines.append(f"  SPIDER_CONFIG={pipeline.workdir / workdir.CONFIG_FILE} spider status")
    lines.append(f"Logs of every process: {pipeline.workdir / 'logs'}")
    return lines


def run(names: DemoNames, stack_cfg: StackConfig, timeout: float, keep_running: bool, console: Console) -> Snapshot:
    _stop_on_sigterm()
    began = time.monotonic()
    pipeline = prepare(names, stack_cfg, console)
    observer = Observer(
        pipeline.kafka,
        pipeline.clusters,
        names.index_pattern,
        pipeline.groups[0],
        {t.target: group for t, group in zip(pipeline.targets, pipeline.groups[1:], strict=True)},
    )
    snap: Snapshot | None = None
    try:
        for child in pipeline.children:
            processes.start(child, pipeline.workdir)
        (pipeline.workdir / "pids.json").write_text(json.dumps({c.name: c.pid for c in pipeline.children}))
        snap = watch(pipeline, observer, timeout, console)
        for line in summary(pipeline, observer, snap, time.monotonic() - began):
            console.print(line, soft_wrap=True, highlight=False)
        if keep_running:
            console.print(
                "\nThe pipeline keeps running (add ads with `spider collector --from-file`); Ctrl-C stops it."
            )
            while all(c.exit_code() is None for c in pipeline.children if c not in pipeline.collectors):
                time.sleep(1)
        return snap
    except KeyboardInterrupt:
        if snap is None:
            raise DemoFailed("interrupted before everything landed") from None
        return snap
    finally:
        ended = processes.stop(pipeline.children)
        observer.close()
        console.print("Stopped: " + ", ".join(f"{name} ({how})" for name, how in ended.items()))
