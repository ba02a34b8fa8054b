"""One benchmark run: fresh topics and indices, W converter workers, S processes per sink, collectors last.

The processes are the demo's (deploy/demo/processes.py: real `spider` children, own metrics port, JSON logs)
and the counts are the demo's Observer (deploy/demo/progress.py: Kafka end offsets, `_count` without a forced
refresh, the AMQ sink's metric). What this adds: per-stage timing, the latency sample, usage of every process,
optional py-spy.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.e2e import adfiles
from bench.e2e.observe import (
    LatencySampler,
    ProcessMeter,
    Usage,
    percentile,
    reaped_children_usage,
    server_pids,
    topic_times,
)
from deploy.demo import cleanup, processes, workdir
from deploy.demo.processes import Child
from deploy.demo.progress import Observer, Snapshot, TargetProgress, scrape
from deploy.demo.run import DemoFailed
from deploy.demo.workdir import DemoNames
from deploy.local.config import StackConfig
from services.common import search_clients, topics
from services.common.config import KafkaSettings, load_es_clusters
from services.common.groups import GroupNames
from services.common.topic_admin import create_topics

TICK_S = 0.5
SNAPSHOT_EVERY = 2  # ticks; a snapshot counts the indices and reads every offset, the sample query is cheap
EXIT_SKIPPED = 4


@dataclass
class Options:
    ads: int = 200_000
    workers: int = 1
    sink_processes: int = 1
    partitions: int = 4
    rate: float | None = None
    samples: int = 500
    timeout_s: float = 3600.0
    seed: int = 0
    profile: Path | None = None  # directory for py-spy raw stacks of every converter and sink process
    keep: bool = False  # leave topics and indices behind
    input: str = "ndjson"  # ad file format the collectors read: ndjson (raw messages) or classad (text)


TARGETS = (
    ("Elasticsearch", "es-local-es", "elasticsearch", "es"),
    ("OpenSearch", "opensearch-local-os", "opensearch", "opensearch"),
    ("ActiveMQ", "amq", "amq", "amq"),
)


def _children(opts: Options, files: adfiles.AdFiles, logs: Path) -> list[Child]:
    children = [
        Child(f"{target}#{i}", ["sink", command], logs / f"sink-{target}-{i}.log", processes.free_port())
        for _label, target, _kind, command in TARGETS
        for i in range(opts.sink_processes)
    ]
    children += [
        Child(f"converter#{i}", ["converter"], logs / f"converter-{i}.log", processes.free_port())
        for i in range(opts.workers)
    ]
    for source, path, count in (("queue", files.queue, files.queue_ads), ("history", files.history, files.history_ads)):
        args = ["collector", "--from-file", str(path), "--source", source, "--pool", "Global"]
        if opts.rate:
            args += ["--rate", f"{opts.rate * count / files.total:.3f}"]
        children.append(Child(f"collector-{source}", args, logs / f"collector-{source}.log"))
    return children


def _stage(name: str) -> str:
    return name.split("#")[0]


def run(opts: Options, stack: StackConfig, cache: Path, on_tick=None) -> dict[str, Any]:
    files = adfiles.write(cache, opts.ads, opts.seed, opts.input)
    names = DemoNames(f"e2e-{uuid.uuid4().hex[:8]}")
    path = workdir.write(names, stack)
    kafka = KafkaSettings(bootstrap_servers=stack.endpoints()["kafka"], topic_prefix=names.topic_prefix)
    targets = [TargetProgress(label, target, kind) for label, target, kind, _ in TARGETS]
    clusters = load_es_clusters(path / "etc" / "es_conf.json")
    group_names = GroupNames(kafka, converter=names.converter_group, sink_prefix=names.sink_group_prefix)
    sink_groups = {t.target: group_names.sink(t.target) for t in targets}
    create_topics(kafka, partitions=max(opts.partitions, opts.workers, opts.sink_processes))
    # no forced refresh: the counts are what is searchable, as for the latency sample
    observer = Observer(kafka, clusters, names.index_pattern, names.converter_group, sink_groups, refresh=False)
    clients = {c.kind: search_clients.client(c, timeout_s=10.0) for c in clusters}
    sampler = LatencySampler(clients, names.index_pattern, files.job_ids, opts.samples)
    children = _children(opts, files, path / "logs")
    collectors = [c for c in children if c.name.startswith("collector")]
    services = [c for c in children if c not in collectors]
    meter, marks, rss_series, amq_series = ProcessMeter(), {}, [], []
    servers = {f"server:{name}": pid for name, pid in server_pids().items()}
    profilers: list[subprocess.Popen] = []
    baseline = reaped_children_usage()
    snap = Snapshot()
    try:
        for child in services:
            processes.start(child, path)
        _wait_ready(services)
        if opts.profile:
            profilers = _profile(services, opts.profile)
        began = time.time()
        for child in collectors:
            processes.start(child, path)
        collector_usage: Usage | None = None
        tick = 0
        while True:
            _check(children, collectors)
            meter.sample({c.name: c.pid for c in children} | servers)
            sampler.poll()
            if collector_usage is None and all(c.exit_code() is not None for c in collectors):
                # CPU from the kernel's account of reaped children (exact, to the last moment); peak RSS from the
                # samples: ru_maxrss is the largest of every child ever reaped, and a child forked while this
                # process held the freshly generated ads counts all of them as its own
                done = reaped_children_usage()
                peak = max((meter.usage[c.name].peak_rss_mb for c in collectors if c.name in meter.usage), default=0.0)
                collector_usage = Usage(peak, done.cpu_s - baseline.cpu_s)
                marks["published"] = time.time()
            if tick % SNAPSHOT_EVERY == 0:
                snap = _snapshot(observer, collector_usage is not None, services, targets, snap)
                now = time.time()
                if snap.converted():
                    marks.setdefault("converted", now)
                for t in snap.targets:
                    if t.kind == "amq" and t.landed is not None:
                        amq_series.append((now, t.landed))
                    if snap.converted() and t.done(snap.documents):
                        marks.setdefault(f"landed in {t.label}", now)
                rss_series.append(
                    {"t": round(now - began, 1), **{n: round(u.rss_mb, 1) for n, u in meter.usage.items()}}
                )
                if on_tick:
                    on_tick(snap, now - began)
                if snap.landed():  # samples of ads the converter dropped on purpose are never found
                    sampler.poll()
                    break
            if time.time() - began > opts.timeout_s:
                raise DemoFailed(f"not everything landed within {opts.timeout_s:.0f}s: {', '.join(snap.waiting_for())}")
            tick += 1
            time.sleep(TICK_S)
        finished = time.time()
        meter.sample({c.name: c.pid for c in services} | servers)
    finally:
        for p in profilers:
            p.send_signal(signal.SIGINT)
            p.wait(timeout=60)
        processes.stop(children)
        observer.close()
    raw = topic_times(kafka, (topics.RAW_QUEUE, topics.RAW_HISTORY), set(sampler.ids))
    # a document's key is its id: GlobalJobId#<record time>
    docs = topic_times(
        kafka, (topics.DOCS_QUEUE, topics.DOCS_HISTORY), set(sampler.ids), lambda k: k.rpartition("#")[0]
    )
    latencies = sampler.latencies(raw.by_key)
    latencies["converter"] = sorted(docs.by_key[i] - raw.by_key[i] for i in docs.by_key if i in raw.by_key)
    for client in clients.values():
        client.close()
    if not opts.keep:
        cleanup.clean(names, kafka, clusters, [names.converter_group, *sink_groups.values()])
        shutil.rmtree(path, ignore_errors=True)  # logs of a run that worked
    rates = sampler.rates(snap.documents) | {"amq": _middle_rate(amq_series, snap.documents)}
    return _result(
        opts, files, snap, began, finished, rates, raw, docs, latencies, meter, collector_usage, rss_series, marks
    )


def _middle_rate(series: list[tuple[float, int]], documents: int) -> float | None:
    """docs/s between the ticks the count passed 10% and 90% of the documents."""
    lo = next((t for t, n in series if n >= documents * 0.1), None)
    hi = next((t for t, n in series if n >= documents * 0.9), None)
    return documents * 0.8 / (hi - lo) if lo is not None and hi is not None and hi > lo else None


def _wait_ready(services: list[Child], timeout_s: float = 60.0) -> None:
    """Until every service answers on its metrics port, so start-up is not counted in the pipeline's time."""
    deadline = time.monotonic() + timeout_s
    while any(not scrape(c.metrics_port) for c in services):
        for c in services:
            if c.exit_code() is not None:
                raise DemoFailed(f"{c.name} exited with status {c.exit_code()}:\n{c.log_tail()}")
        if time.monotonic() > deadline:
            raise DemoFailed("services did not answer on their metrics ports within 60 s")
        time.sleep(0.5)
    time.sleep(2.0)  # consumer group joins and partition assignment


def _profile(services: list[Child], directory: Path) -> list[subprocess.Popen]:
    directory.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                "py-spy",
                "record",
                "--pid",
                str(c.pid),
                "-f",
                "raw",
                "-r",
                "50",
                "--nonblocking",
                "-o",
                str(directory / f"{c.name.replace('#', '-')}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for c in services
    ]


def _check(children: list[Child], collectors: list[Child]) -> None:
    for child in children:
        code = child.exit_code()
        if code is not None and (child not in collectors or code not in (0, EXIT_SKIPPED)):
            raise DemoFailed(f"{child.name} exited with status {code}; its log ({child.log}):\n{child.log_tail()}")


def _snapshot(observer: Observer, collected: bool, services: list[Child], targets, last: Snapshot) -> Snapshot:
    metrics: dict[str, list] = {}
    for child in services:  # one metrics list per stage: the Observer sums a target's processes
        metrics.setdefault(_stage(child.name), []).extend(scrape(child.metrics_port))
    try:
        return observer.snapshot(collected, metrics, [TargetProgress(t.label, t.target, t.kind) for t in targets])
    except Exception:  # new partitions without a leader yet, a slow refresh: keep the last one
        return last


def _result(opts, files, snap, began, finished, rates, raw, docs, latencies, meter, collector_usage, rss_series, marks):
    stages: dict[str, dict[str, Any]] = {}
    per_stage: dict[str, list[Usage]] = {}
    for name, usage in meter.usage.items():
        if not name.startswith("collector"):  # the collectors' figures come from collector_usage
            per_stage.setdefault(_stage(name), []).append(usage)
    collector_cpu = collector_usage.cpu_s if collector_usage else None

    def usage_fields(stage: str, count: int, cpu: float | None, peak: float | None) -> dict[str, Any]:
        return {
            "processes": len(per_stage.get(stage, [])) or 2,
            "cpu_s": None if cpu is None else round(cpu, 2),
            "cpu_s_per_1000_docs": None if cpu is None or not count else round(cpu / count * 1000, 3),
            "peak_rss_mb": None if peak is None else round(peak, 1),
        }

    stages["collector"] = {
        "documents": raw.count,
        "docs_per_s": _round(raw.rate()),
        **usage_fields("collector", raw.count, collector_cpu, collector_usage.peak_rss_mb if collector_usage else None),
    }
    conv = per_stage.get("converter", [])
    stages["converter"] = {
        "documents": docs.count,
        "docs_per_s": _round(docs.rate()),
        "latency_s": _latency(latencies["converter"]),
        **usage_fields(
            "converter", docs.count, sum(u.cpu_s for u in conv), max((u.peak_rss_mb for u in conv), default=0)
        ),
    }
    for t in snap.targets:
        us = per_stage.get(t.target, [])
        lat = latencies.get(t.kind, [])
        stages[t.target] = {
            "label": t.label,
            "documents": t.landed,
            "rejected": t.rejected,
            "docs_per_s": _round(rates.get(t.kind)),
            **usage_fields(
                t.target, t.landed or 0, sum(u.cpu_s for u in us), max((u.peak_rss_mb for u in us), default=0)
            ),
            "latency_s": _latency(lat),
        }
    total = finished - began
    return {
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(opts).items()},
        "ads": {"total": files.total, "queue": files.queue_ads, "history": files.history_ads},
        "published": snap.published,
        "documents": snap.documents,
        "dropped": snap.dropped,
        "dead_letters": {"converter": snap.dlq_converter, "sinks": snap.dlq_sinks},
        "all_landed": snap.landed(),
        "total_s": round(total, 1),
        "milestones_s": {name: round(t - began, 1) for name, t in marks.items()},
        "end_to_end_docs_per_s": _round(snap.documents / total),
        "stages": stages,
        "servers_cpu_s_per_1000_docs": {
            n.split(":")[1]: round(u.cpu_s / snap.documents * 1000, 3)
            for n, u in meter.usage.items()
            if n.startswith("server:") and snap.documents
        },
        "processes": {
            n: {"peak_rss_mb": round(u.peak_rss_mb, 1), "cpu_s": round(u.cpu_s, 2)} for n, u in meter.usage.items()
        },
        "rss_series": rss_series,
    }


def _latency(sorted_s: list[float]) -> dict[str, Any]:
    return {
        "samples": len(sorted_s),
        **{f"p{q}": _round(percentile(sorted_s, q), 2) for q in (50, 95, 99)},
        "max": _round(sorted_s[-1] if sorted_s else None, 2),
    }


def _round(value: float | None, digits: int = 0) -> float | None:
    return None if value is None else round(value, digits) if digits else round(value)
