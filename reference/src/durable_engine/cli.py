"""`durable`: one command to run the engine (embedded Postgres unless a database URL is given).

    durable            dev mode: embedded Postgres, migrations, API + workers on :3030
    durable migrate    apply pending migrations and exit
    durable serve      API + workers
    durable worker     workers only (more of them share one Postgres)

Talking to a running engine (`durable <command> --help` for each):

    durable send EVENT [--data JSON]          send an event
    durable runs list|get|history|cancel|rerun|bulk-cancel|bulk-rerun
    durable functions list
    durable apps list|create|rotate-key|update|delete

    They sign with the workspace's key: --app/DURABLE_APP_ID and --key/DURABLE_SIGNING_KEY,
    talk to --url/DURABLE_URL (default http://127.0.0.1:3030), use --admin-token/
    DURABLE_ADMIN_TOKEN for `apps`, and print JSON with --json, all given before the
    command: `durable --json runs list --status failed`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from . import __version__
from .db import migrate, wait_for_database
from .engine import Config
from .logs import FORMATS, configure
from .ops import parse_age
from .pg import EmbeddedPostgres
from .server import Options, Server


def say(line: str) -> None:
    print(f"durable: {line}", flush=True)


ENVIRONMENT = """\
environment variables (each flag's default; flags win):
  DATABASE_URL           --database-url
  DURABLE_DIRECT_URL     --direct-url
  DURABLE_PGDATA         --pgdata
  DURABLE_PG_PORT        --pg-port
  DURABLE_HOST           --host
  DURABLE_PORT           --port
  DURABLE_GRPC_PORT      --grpc-port
  DURABLE_WORKER_SLOTS   --workers
  DURABLE_RETENTION      --retention
  DURABLE_DRAIN_TIMEOUT  --drain-timeout
  DURABLE_LOG            --log-level
  DURABLE_LOG_FORMAT     --log-format
  DURABLE_ENV            dev or development: dev mode; anything else: production mode
                         (--dev / --prod win; without any, `durable` alone is dev mode)
  DURABLE_ADMIN_TOKEN    bearer token for the admin API (/api/apps); unset: admin API open
                         to loopback clients in dev mode, disabled in production mode
  DURABLE_METRICS_PUBLIC 1: /metrics open to anyone; otherwise it needs the admin token
                         (bearer), or without one: loopback clients in dev mode only
  DURABLE_DEV_APP_URL    dev mode: where to discover apps, one URL or several comma-separated
                         (default http://localhost:3000/api/durable)
  DURABLE_OTEL           1: export OpenTelemetry spans (needs durable-engine[otel]); 0: never
  OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
                         where spans go over OTLP/HTTP (set: export on, unless DURABLE_OTEL=0)
  OTEL_SERVICE_NAME      the spans' service name (default durable-engine)
  DURABLE_SPEC_DIR       where the spec (openapi.yaml, schemas/) is read from (default: the
                         copy shipped in the package, else spec/ of a checkout)

examples:
  durable                                   dev mode on http://127.0.0.1:3030
  durable --host 0.0.0.0                    dev mode reachable from other machines
  DURABLE_DEV_APP_URL=http://127.0.0.1:3000/api/durable,http://127.0.0.1:8000/api/durable durable
  DATABASE_URL=postgres://... DURABLE_ADMIN_TOKEN=... durable serve --log-format json
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="durable", description=__doc__, epilog=ENVIRONMENT,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", nargs="?", default="start", choices=SERVER_COMMANDS,
                   help="start (default): dev mode with embedded Postgres; migrate; serve; "
                        "worker")
    p.add_argument("--version", action="version", version=f"durable {__version__}")
    p.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                   help="external Postgres, e.g. postgres://u:p@db:5432/durable "
                        "(default: the embedded one)")
    p.add_argument("--direct-url", default=os.environ.get("DURABLE_DIRECT_URL"),
                   help="when --database-url goes through PgBouncer in transaction pooling: "
                        "a direct URL to the same database, for LISTEN and migrations; the "
                        "engine then prepares no statement and sets no session state on "
                        "--database-url")
    p.add_argument("--pgdata", default=os.environ.get("DURABLE_PGDATA", "~/.durable/pgdata"),
                   help="embedded Postgres data directory (default ~/.durable/pgdata)")
    p.add_argument("--pg-port", type=int, default=int(os.environ.get("DURABLE_PG_PORT", 5434)),
                   help="embedded Postgres port on 127.0.0.1 (default 5434)")
    p.add_argument("--host", default=os.environ.get("DURABLE_HOST"),
                   help="address to listen on (default 127.0.0.1 in dev mode, 0.0.0.0 in "
                        "production mode); --host 0.0.0.0 exposes a dev engine to your network")
    p.add_argument("--port", type=int, default=int(os.environ.get("DURABLE_PORT", 3030)),
                   help="HTTP port (default 3030)")
    p.add_argument("--grpc-port", default=os.environ.get("DURABLE_GRPC_PORT"),
                   help="gRPC port of the engine and admin API (default 3031, skipped with a "
                        "warning when taken; a given port must be free; off = no gRPC)")
    p.add_argument("--workers", type=int, default=int(os.environ.get("DURABLE_WORKER_SLOTS", 256)),
                   help="concurrent invocations per process (default 256)")
    p.add_argument("--retention", default=os.environ.get("DURABLE_RETENTION", "30d"),
                   help="prune ended runs, their events and deliveries older than this "
                        "(e.g. 30d, 12h; 0 = keep forever)")
    p.add_argument("--drain-timeout", default=os.environ.get("DURABLE_DRAIN_TIMEOUT", "30s"),
                   help="on SIGTERM, how long in-flight invocations may finish (e.g. 30s)")
    p.add_argument("--log-level", default=os.environ.get("DURABLE_LOG", "info"),
                   type=str.lower, choices=["debug", "info", "warning", "error"],
                   help="log level (default info: one line per run state change)")
    p.add_argument("--log-format", default=os.environ.get("DURABLE_LOG_FORMAT", "text"),
                   choices=FORMATS, help="text (default, readable) or json (one object a line)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--prod", action="store_true", help="production mode (no discovery)")
    mode.add_argument("--dev", action="store_true", help="dev mode (discover the local app)")
    return p


CLIENT_COMMANDS = ("send", "runs", "functions", "apps")
SERVER_COMMANDS = ("start", "migrate", "serve", "worker")


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    first = next((a for a in args_list if a in CLIENT_COMMANDS or a in SERVER_COMMANDS), None)
    if first in CLIENT_COMMANDS:
        from .cli_client import main as client_main  # click and rich: only for these commands

        return client_main(args_list)
    p = parser()
    args = p.parse_args(argv)
    try:
        grpc_port = parse_grpc_port(args.grpc_port or "3031")
        retention_s = parse_age(args.retention)
        drain_s = parse_age(args.drain_timeout) or 0.0
    except ValueError as error:
        p.error(str(error))
    configure(args.log_level, args.log_format)
    env = os.environ.get("DURABLE_ENV", "").lower()
    if args.prod:
        dev = False
    elif args.dev:
        dev = True
    elif env:
        dev = env in ("dev", "development")
    else:
        dev = args.command == "start"

    embedded: EmbeddedPostgres | None = None
    url = args.database_url
    try:
        if not url:
            pgdata = Path(args.pgdata).expanduser().resolve()
            embedded = EmbeddedPostgres(pgdata, args.pg_port)
            embedded.start()
            state = "created" if embedded.created else "reused"
            say(f"embedded Postgres {state} in {pgdata}, listening on 127.0.0.1:{args.pg_port}")
            url = embedded.url
        else:
            say("using the database at DATABASE_URL / --database-url")
        direct = args.direct_url if args.database_url else None
        wait_for_database(direct or url, say=say)
        applied, total = migrate(direct or url)  # a session advisory lock: not through a pool
        say(f"migrations: {applied} applied, {total} in total")
        if args.command == "migrate":
            return 0
        config = Config(database_url=url, direct_url=direct, worker_slots=args.workers)
        options = Options(
            host=args.host or ("127.0.0.1" if dev else "0.0.0.0"), port=args.port,
            grpc_port=grpc_port, grpc_required=args.grpc_port is not None,
            api=args.command != "worker", workers=True,
            dev=dev, admin_token=os.environ.get("DURABLE_ADMIN_TOKEN") or None,
            retention_s=retention_s, drain_timeout_s=drain_s,
            metrics_public=os.environ.get("DURABLE_METRICS_PUBLIC", "") in ("1", "true", "yes"),
            dev_app_url=os.environ.get("DURABLE_DEV_APP_URL",
                                       "http://localhost:3000/api/durable"))
        asyncio.run(_serve(config, options))
        return 0
    except KeyboardInterrupt:
        return 0
    except Exception as error:  # noqa: BLE001 - one readable line, not a trace
        say(f"error: {error}")
        return 1
    finally:
        if embedded is not None and embedded.started_here:
            embedded.stop()
            say("embedded Postgres stopped")


def parse_grpc_port(value: str) -> int | None:
    """--grpc-port / DURABLE_GRPC_PORT: a port (0 = any free one), or off."""
    if value.strip().lower() in ("off", "none", "no", "false"):
        return None
    try:
        port = int(value)
    except ValueError:
        raise ValueError(f"--grpc-port must be a port number or off, not {value!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"--grpc-port must be 0-65535, not {port}")
    return port


async def _serve(config: Config, options: Options) -> None:
    server = Server(config, options, say=say)
    await server.start()
    say(f"mode: {'dev' if options.dev else 'production'}")
    if options.admin_token:
        say("admin API: requires the DURABLE_ADMIN_TOKEN bearer token")
    elif options.dev:
        say("admin API: open to loopback clients only (no DURABLE_ADMIN_TOKEN)")
    else:
        say("admin API: disabled (set DURABLE_ADMIN_TOKEN)")
    if options.api:
        say("metrics: /metrics " + (
            "open to anyone (DURABLE_METRICS_PUBLIC)" if options.metrics_public else
            "with the admin token" if options.admin_token else
            "open to loopback clients only" if options.dev else
            "disabled (set DURABLE_ADMIN_TOKEN or DURABLE_METRICS_PUBLIC=1)"))
    say(f"workers: {config.worker_slots} concurrent invocations")
    if options.api:
        say(f"serving on http://localhost:{server.port}")
        if server.grpc_port is not None:
            say(f"gRPC (durable.v1.Engine, durable.v1.Admin) on localhost:{server.grpc_port}")
        if options.host in ("127.0.0.1", "localhost", "::1"):
            say("listening on this machine only (--host 0.0.0.0 or DURABLE_HOST to expose it)")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    say("draining: no new work is claimed, in-flight invocations finish")
    await server.stop()
    say("stopped")


if __name__ == "__main__":
    sys.exit(main())
