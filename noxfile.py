"""One entry point for every check: `nox` runs them all, `nox -s <name>` runs one.

Each part of the repository owns its tests; this file only says how to install and
start them. Sessions marked default=False are run on demand (serve, bench, fuzz-long).
"""

from __future__ import annotations

import os
import shutil

import nox

nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = True

ROOT = os.path.dirname(os.path.abspath(__file__))
PYTHON = "3.11"


def _pytest(session: nox.Session, *paths: str) -> None:
    session.run("pytest", "-q", "-ra", *paths, *session.posargs)


def _our_sdk(session: nox.Session, *more: str) -> None:
    """Our Python SDK (module `durable`) plus `more`; the published package that shares the
    module name is removed first, as a reused virtualenv may hold it."""
    session.run("python", "-m", "pip", "uninstall", "-q", "-y", "dicabrio-durable-sdk",
                silent=True)
    session.install("-e", "sdks/python", *more)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over every Python file; mypy --strict over the engine."""
    session.install("ruff", "-e", "reference[otel,typecheck]")
    session.run("ruff", "check", ".")
    session.run("mypy", "--config-file", "reference/pyproject.toml", "reference/src/durable_engine")
    session.run("python", "reference/tools/check_engine.py")  # no import cycle, no dead query
    session.run("python", "conformance/tools/check_imports.py")  # no import cycle
    session.run("python", "conformance/tools/check_matrix.py")  # matrix.md made on this spec


@nox.session(python=PYTHON)
def spec(session: nox.Session) -> None:
    """Schemas valid, vectors valid, requirement IDs unique, uncovered IDs printed; the
    protos compile and match the JSON Schemas field by field (spec/tools/proto.py)."""
    session.install("-r", "spec/tools/requirements.txt")
    session.run("python", "spec/tools/check.py")
    session.run("python", "spec/tools/proto.py")  # protos compile, code fresh, = JSON Schemas


@nox.session(name="spec-compat", python=PYTHON)
def spec_compat(session: nox.Session) -> None:
    """The published dicabrio-durable-sdk 0.1.0 agrees with every v1 vector."""
    session.install("dicabrio-durable-sdk==0.1.0", "pytest")
    _pytest(session, "spec/compat")


@nox.session(python=PYTHON)
def reference(session: nox.Session) -> None:
    """The reference engine against a real Postgres and real apps on our SDK, on loopback."""
    _our_sdk(session, "-e", "reference[test,otel]")
    _pytest(session, "reference/tests")


@nox.session(name="reference-compat", python=PYTHON)
def reference_compat(session: nox.Session) -> None:
    """Apps written with the published dicabrio-durable-sdk 0.1.0 against the engine."""
    session.run("python", "-m", "pip", "uninstall", "-q", "-y", "durable-sdk", silent=True)
    session.install("-e", "reference[test]", "dicabrio-durable-sdk==0.1.0")
    session.env["DURABLE_TEST_SDK"] = "published"
    _pytest(session, "reference/tests/test_compat.py")


@nox.session(python=PYTHON)
def cli(session: nox.Session) -> None:
    """`durable send|runs|functions|apps` against a real engine and an app on our SDK."""
    _our_sdk(session, "-e", "reference[test]")
    _pytest(session, "reference/tests/test_cli_client.py", "reference/tests/test_environments.py")


@nox.session(name="sdk-python", python=PYTHON)
def sdk_python(session: nox.Session) -> None:
    """Python SDK: vectors, adapters over real HTTP, mypy strict."""
    session.install("-e", "sdks/python[test]")
    _pytest(session, "sdks/python/tests")
    session.run("mypy", "--strict", "sdks/python/src/durable")


@nox.session(name="sdk-ts", python=False)
def sdk_ts(session: nox.Session) -> None:
    """TypeScript SDK: npm ci from the lock file, tsc --strict, vitest."""
    session.chdir("sdks/ts")
    session.run("npm", "ci", "--no-audit", "--no-fund", external=True)
    session.run("npm", "test", external=True)


@nox.session(name="sdk-php", python=False)
def sdk_php(session: nox.Session) -> None:
    """PHP SDK: PHPUnit from Debian."""
    session.chdir("sdks/php")
    session.run("phpunit", "--colors=never", external=True)


@nox.session(python=PYTHON)
def packaging(session: nox.Session) -> None:
    """Each package built, installed outside the repo (pip, pipx, npm, composer) and each SDK
    README's quick start run from it against the engine started from its own wheel."""
    session.install("build", "pipx", "uv", "pytest")
    session.run("npm", "ci", "--no-audit", "--no-fund", "--prefix", "sdks/ts", external=True)
    session.run("pytest", "-q", "-ra", "-p", "no:cacheprovider", "installs", *session.posargs)


def _conformance(session: nox.Session, target: str) -> None:
    session.install("-e", "conformance")
    if target == "engine":
        _our_sdk(session, "-e", "reference[test]")
    if target == "python":
        session.install("-e", "sdks/python")
    if target == "published":
        session.install("dicabrio-durable-sdk==0.1.0")
    if target == "ts":
        session.run("npm", "ci", "--no-audit", "--no-fund", "--prefix", "sdks/ts", external=True)
    session.run("python", "-m", "durable_conformance", "run", target, *session.posargs)


@nox.session(name="conformance-python", python=PYTHON)
def conformance_python(session: nox.Session) -> None:
    _conformance(session, "python")


@nox.session(name="conformance-ts", python=PYTHON)
def conformance_ts(session: nox.Session) -> None:
    _conformance(session, "ts")


@nox.session(name="conformance-php", python=PYTHON)
def conformance_php(session: nox.Session) -> None:
    _conformance(session, "php")


@nox.session(name="conformance-published", python=PYTHON)
def conformance_published(session: nox.Session) -> None:
    _conformance(session, "published")


@nox.session(name="conformance-engine", python=PYTHON)
def conformance_engine(session: nox.Session) -> None:
    _conformance(session, "engine")


@nox.session(name="conformance-engine-grpc", python=PYTHON)
def conformance_engine_grpc(session: nox.Session) -> None:
    """The engine's gRPC surface: the core engine scenarios, the api, run-keys and webhooks
    scenario groups, the api vectors and the gRPC cases over a client compiled from
    spec/proto (the engine-grpc column)."""
    session.install("-e", "conformance[grpc,test]")
    _our_sdk(session, "-e", "reference[test]")
    session.run("python", "-m", "durable_conformance", "run", "engine-grpc", *session.posargs)
    # and a deliberately broken gRPC handler fails it with the requirement ID named
    session.run("pytest", "-q", "conformance/tests/test_broken_grpc_engine.py")


@nox.session(name="conformance-mutants", python=PYTHON)
def conformance_mutants(session: nox.Session) -> None:
    """The suite against deliberately broken copies of the Python SDK: every one must fail,
    naming the requirement it breaks; prints the kill rate (about 2 minutes)."""
    session.install("-e", "conformance", "-e", "sdks/python")
    session.run("python", "-m", "durable_conformance", "mutants", *session.posargs)


@nox.session(name="conformance-matrix", python=PYTHON, default=False)
def conformance_matrix(session: nox.Session) -> None:
    """Every target and the mutants, then conformance/reports/matrix.md (committed; `nox -s
    lint` checks it was made on the current spec). About 5 minutes."""
    session.install("-e", "conformance")
    targets = ["python", "ts", "php", "published", "engine", "engine-grpc"]
    session.run("nox", "-s", *[f"conformance-{t}" for t in targets],
                "conformance-mutants", external=True)
    session.run("python", "-m", "durable_conformance", "matrix", silent=True)


@nox.session(name="conformance-selftest", python=PYTHON)
def conformance_selftest(session: nox.Session) -> None:
    """The suite itself: a deliberately broken app fails with the requirement IDs named."""
    session.install("-e", "conformance[test]")
    _pytest(session, "conformance/tests")


@nox.session(python=PYTHON)
def faults(session: nox.Session) -> None:
    """Fault suite: kill -9 engines, misbehaving apps, Postgres restarts; 0 lost, 0 doubled.

    Short by default (CI); `nox -s faults -- --runs 500 --kills 20` for the full one.
    """
    _our_sdk(session, "-e", "reference[test]", "-e", "faults")
    session.run("python", "-m", "durable_faults", *session.posargs)


@nox.session(python=PYTHON)
def dashboard(session: nox.Session) -> None:
    """The dashboard in Debian's chromium (Playwright for Python; no browser download) against
    a real engine and apps on our SDK; screenshots in reference/tests_dashboard/artifacts/."""
    if not shutil.which("chromium"):
        session.error("Debian's chromium is needed (apt-get install chromium; .ci/run does)")
    session.env["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    _our_sdk(session, "-e", "reference[test]", "playwright>=1.40")
    _pytest(session, "reference/tests_dashboard")


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """schemathesis (--checks all) against the engine's served OpenAPI: no 5xx."""
    _our_sdk(session, "-e", "reference[test]", "-e", "fuzz")
    session.run("python", "-m", "durable_fuzz", *session.posargs)


@nox.session(python=PYTHON, default=False)
def serve(session: nox.Session) -> None:
    """Run the engine: embedded Postgres, migrations, http://localhost:3030."""
    session.install("-e", "reference")
    session.run("durable", *session.posargs)


@nox.session(python=PYTHON, default=False)
def pgbouncer(session: nox.Session) -> None:
    """Bench and fault suite with the engine behind PgBouncer in transaction pooling.

    Needs Debian's pgbouncer (apt-get install pgbouncer); not part of the default run.
    """
    _our_sdk(session, "-e", "reference[test]", "-e", "faults")
    session.run("python", "-m", "bench", "--via-pgbouncer", "--only",
                "throughput,recovery,latency", "--size", "processes=1,2", *session.posargs)
    session.run("python", "-m", "bench.pgbouncer", "python", "-m", "durable_faults",
                "--no-tests", "--runs", "30", "--kills", "2")


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks that print figures and write bench/results/*.json (DBOS in bench/.venv-dbos)."""
    _our_sdk(session, "-e", "reference[test]", "-e", "faults", "py-spy")
    session.run("python", "-m", "bench", *session.posargs)
    if shutil.which("node"):
        session.run("npm", "run", "bench", "--prefix", "sdks/ts", external=True, success_codes=[0])
