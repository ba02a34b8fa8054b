"""Typer commands of `spider stack`; the work is in deploy.local.stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from deploy.local import stack, tls
from deploy.local.config import SECURE_SERVERS, load_stack_config

stack_app = typer.Typer(
    help="The local stack (Kafka, ActiveMQ, OpenSearch, Elasticsearch) on 127.0.0.1, state in .stack/.",
    no_args_is_help=True,
    add_completion=False,
)

DirOption = Annotated[Path | None, typer.Option("--dir", help="State directory (SPIDER_STACK_DIR, default .stack)")]
OffsetOption = Annotated[int | None, typer.Option(help="Added to every port (SPIDER_STACK_PORT_OFFSET)")]
SecureOption = Annotated[
    bool | None,
    typer.Option(
        "--secure",
        help="The secure stack (SPIDER_STACK_SECURE): Kafka SASL_SSL, ActiveMQ stomp+ssl, HTTPS proxies with basic "
        "auth in front of the search servers; state in <dir>/secure",
    ),
]

BrokersOption = Annotated[
    int | None,
    typer.Option(
        "--kafka-brokers",
        help="Kafka nodes (SPIDER_STACK_KAFKA_BROKERS); above 1, a replicated KRaft cluster on the cluster ports "
        "(default 9192..., controllers 9292...) with its own state in <dir>/kafka-<n>",
    ),
]


def _print(outcomes: list[stack.Outcome]) -> None:
    for o in outcomes:
        took = f" in {o.seconds:.1f}s" if o.seconds >= 0.05 else ""
        detail = f"  [{o.detail}]" if o.detail else ""
        typer.echo(f"{o.name:<14} {o.state + took:<18} {o.listens}{detail}")


@stack_app.command("up")
def up_cmd(
    state_dir: DirOption = None,
    only: Annotated[str | None, typer.Option(help=f"Comma-separated subset of {','.join(SECURE_SERVERS)}")] = None,
    port_offset: OffsetOption = None,
    kafka_port: Annotated[int | None, typer.Option(help="SPIDER_STACK_KAFKA_PORT, default 9092")] = None,
    kafka_controller_port: Annotated[int | None, typer.Option(help="default 9093")] = None,
    elasticsearch_port: Annotated[int | None, typer.Option(help="default 9200 (transport +100)")] = None,
    opensearch_port: Annotated[int | None, typer.Option(help="default 9201 (transport +100)")] = None,
    stomp_port: Annotated[int | None, typer.Option(help="ActiveMQ STOMP, default 61613")] = None,
    secure: SecureOption = None,
    kafka_brokers: BrokersOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the endpoints as JSON")] = False,
) -> None:
    """Start the servers (in parallel) and wait until each is healthy; a second `up` changes nothing."""
    cfg = load_stack_config(
        dir=state_dir, port_offset=port_offset, kafka_port=kafka_port, kafka_controller_port=kafka_controller_port,
        elasticsearch_port=elasticsearch_port, opensearch_port=opensearch_port, stomp_port=stomp_port, secure=secure,
        kafka_brokers=kafka_brokers,
    )  # fmt: skip
    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    outcomes = stack.up(cfg, names)
    endpoints = cfg.endpoints()
    if json_out:
        typer.echo(json.dumps({o.name: endpoints[o.name] for o in outcomes if o.name in endpoints}))
    else:
        _print(outcomes)
        if cfg.secure:
            material = tls.Material(cfg.state_dir)
            typer.echo(f"CA certificate: {material.ca_cert}\ncredentials:    {material.credentials_dir}")
    stack.raise_failures(outcomes)


@stack_app.command("fetch")
def fetch_cmd() -> None:
    """Download, cache and verify every server's binaries without starting them (for CI images)."""
    _print(stack.fetch(load_stack_config()))


@stack_app.command("down")
def down_cmd(state_dir: DirOption = None, secure: SecureOption = None, kafka_brokers: BrokersOption = None) -> None:
    """Stop the servers this state dir started (by pid file) and wait until they have exited."""
    _print(stack.down(load_stack_config(dir=state_dir, secure=secure, kafka_brokers=kafka_brokers)))


@stack_app.command("status")
def status_cmd(state_dir: DirOption = None, secure: SecureOption = None, kafka_brokers: BrokersOption = None) -> None:
    """What runs, where, and whether it is healthy; exit code 1 unless every server of the last `up` is healthy."""
    outcomes = stack.status(load_stack_config(dir=state_dir, secure=secure, kafka_brokers=kafka_brokers))
    _print(outcomes)
    if any(o.state not in ("running", "external") for o in outcomes):
        raise typer.Exit(1)


@stack_app.command("logs")
def logs_cmd(
    server: Annotated[str | None, typer.Argument(help=f"One of {', '.join(SECURE_SERVERS)}; all if unset")] = None,
    lines: Annotated[int, typer.Option("--lines", "-n")] = 40,
    state_dir: DirOption = None,
    secure: SecureOption = None,
    kafka_brokers: BrokersOption = None,
) -> None:
    """The last lines of each server's log."""
    typer.echo(stack.logs(load_stack_config(dir=state_dir, secure=secure, kafka_brokers=kafka_brokers), server, lines))
