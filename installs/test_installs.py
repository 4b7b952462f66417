"""Each package installed as a user installs it, outside the repository, and each SDK
README's quick start run from the installed package against the engine's own wheel."""

from __future__ import annotations

import json
import re
import sys
import tarfile
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, Engine, Process, new_key, one, run

QUICK_START = re.compile(r"## Quick start.*?```(?:python|js|php)\n(.*?)```", re.S)


def quick_start(readme: Path) -> str:
    match = QUICK_START.search(readme.read_text())
    assert match, f"{readme}: no quick start block"
    return match.group(1)


def python_version() -> str:
    text = (ROOT / "sdks/python/src/durable/_version.py").read_text()
    return re.search(r'__version__ = "([^"]+)"', text).group(1)  # type: ignore[union-attr]


def test_one_version_across_the_sdks() -> None:
    """Python's _version.py, TypeScript's package.json and PHP's Protocol::VERSION agree."""
    ts = json.loads((ROOT / "sdks/ts/package.json").read_text())["version"]
    ts_file = (ROOT / "sdks/ts/src/version.ts").read_text()
    php = re.search(r"const VERSION = '([^']+)'", (ROOT / "sdks/php/src/Protocol.php").read_text())
    assert php, "sdks/php/src/Protocol.php: no VERSION"
    assert re.fullmatch(r"\d+\.\d+\.\d+", ts)
    assert (python_version(), php.group(1)) == (ts, ts)
    assert f'VERSION = "{ts}"' in ts_file, "run `node sdks/ts/scripts/version.mjs`"


def test_engine_wheel_and_sdist_ship_the_spec(dist: Path) -> None:
    """The installed engine validates and serves the spec itself, not a copy of its own."""
    shipped = ("openapi.yaml", "registry.json", "schemas/run.schema.json")
    with zipfile.ZipFile(one(dist, "durable_engine-*.whl")) as wheel:
        for name in shipped:
            assert wheel.read(f"durable_engine/spec/{name}") == (ROOT / "spec" / name).read_bytes()
        assert "durable_engine/openapi.yaml" not in wheel.namelist()
    with tarfile.open(one(dist, "durable_engine-*.tar.gz")) as sdist:
        names = {Path(*Path(n).parts[1:]).as_posix() for n in sdist.getnames()}
    assert {f"spec/{name}" for name in shipped} <= names and "hatch_build.py" in names


def test_engine_from_its_wheel_serves_the_spec(engine: Engine) -> None:
    with urllib.request.urlopen(engine.url + "/openapi.yaml", timeout=10) as answer:
        assert answer.read() == (ROOT / "spec/openapi.yaml").read_bytes()
    with urllib.request.urlopen(engine.url + "/schemas/run.schema.json", timeout=10) as answer:
        assert json.loads(answer.read()) == json.loads(
            (ROOT / "spec/schemas/run.schema.json").read_text())


def test_engine_from_its_wheel_serves_the_dashboard(engine: Engine) -> None:
    """Templates and vendored scripts are package data: the page and htmx come from the wheel."""
    with urllib.request.urlopen(engine.url + "/", timeout=10) as answer:
        page = answer.read().decode()
    assert answer.status == 200 and "/static/vendor/htmx.min.js" in page
    with urllib.request.urlopen(engine.url + "/static/vendor/htmx.min.js", timeout=10) as answer:
        shipped = answer.read()
    static = ROOT / "reference/src/durable_engine/dashboard/static/vendor/htmx.min.js"
    assert shipped == static.read_bytes()


def test_engine_runs_from_its_wheel_with_uvx(dist: Path, engine: Engine) -> None:
    wheel = one(dist, "durable_engine-*.whl")
    out = run(Path(sys.executable).with_name("uvx"), "--from", wheel, "durable", "--version",
              env=dict(engine.env, UV_CACHE_DIR=str(wheel.parent.parent / "uv")))
    project = tomllib.loads((ROOT / "reference/pyproject.toml").read_text())["project"]
    assert out.strip() == f"durable {project['version']}"


def test_engine_sdist_installs_into_a_fresh_venv(work: Path, dist: Path) -> None:
    venv = work / "engine-sdist"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin/pip", "install", "-q", one(dist, "durable_engine-*.tar.gz"))
    assert "DURABLE_DEV_APP_URL" in run(venv / "bin/durable", "--help")
    out = run(venv / "bin/python", "-c",
              "from durable_engine.validation import spec_dir; print(spec_dir())", cwd=work)
    assert out.strip() == str(next((venv / "lib").glob("python3*/site-packages"))
                              / "durable_engine" / "spec")


def _serve_python_quick_start(work: Path, engine: Engine, name: str, package: Path,
                              port: int) -> tuple[Process, str]:
    project = work / name
    project.mkdir()
    run(sys.executable, "-m", "venv", project / ".venv")
    run(project / ".venv/bin/pip", "install", "-q", package)
    version = run(project / ".venv/bin/python", "-c", "import durable; print(durable.__version__)",
                  cwd=project)
    assert version.strip() == python_version()
    (project / "app.py").write_text(quick_start(ROOT / "sdks/python/README.md"))
    key = new_key()
    env = dict(engine.env, DURABLE_DEV="1", DURABLE_SIGNING_KEY=key, PORT=str(port))
    app = Process([str(project / ".venv/bin/python"), "app.py"], project / "app.log", project,
                  env).start()
    return app, key


@pytest.mark.parametrize("install", ["wheel", "sdist"])
def test_python_sdk_quick_start(work: Path, dist: Path, engine: Engine,
                                app_ports: dict[str, int], install: str) -> None:
    pattern = "durable_sdk-*.whl" if install == "wheel" else "durable_sdk-*.tar.gz"
    name = f"python-{install}"
    app, key = _serve_python_quick_start(work, engine, name, one(dist, pattern), app_ports[name])
    try:
        workspace = engine.dev_app(engine.app_urls[name], key)
        receipt = engine.cli("send", "user.created", "--data", '{"userId": "u1"}', app=workspace)
        assert receipt["matched"] >= 1, receipt
        done = engine.wait_run(workspace, receipt["runIds"][0], "completed")
        assert done["output"] == {"user": {"id": "u1", "plan": "free"}}
        assert [s["id"] for s in done["steps"]] == ["load-user", "cooldown", "welcome"]
    finally:
        app.stop()


def test_ts_package_has_types_and_esm(work: Path, dist: Path) -> None:
    with tarfile.open(one(dist, "durable-sdk-*.tgz")) as tgz:
        names = set(tgz.getnames())
        manifest = json.loads(tgz.extractfile("package/package.json").read())  # type: ignore[union-attr]
    assert {"package/dist/index.js", "package/dist/index.d.ts", "package/README.md"} <= names
    assert manifest["type"] == "module"
    assert manifest["exports"]["."] == {"types": "./dist/index.d.ts", "import": "./dist/index.js"}


def _npm_project(work: Path, dist: Path) -> Path:
    project = work / "ts"
    if not (project / "node_modules/@durable/sdk").is_dir():
        project.mkdir(exist_ok=True)
        (project / "package.json").write_text('{"name": "my-app", "private": true}\n')
        run("npm", "install", "--no-audit", "--no-fund", one(dist, "durable-sdk-*.tgz"),
            cwd=project)
    return project


def test_ts_types_check_in_a_consumer(work: Path, dist: Path) -> None:
    """A strict TypeScript consumer compiles against the installed declarations."""
    project = _npm_project(work, dist)
    (project / "check.ts").write_text(
        'import { Client, createFunction, DurableError, SDK_VERSION } from "@durable/sdk";\n'
        'import type { RunSummary } from "@durable/sdk";\n'
        'const fn = createFunction({ id: "f", trigger: { event: "e" },\n'
        '  handler: async ({ step }) => step.run("s", () => 1) });\n'
        'const client = new Client({ baseUrl: "http://127.0.0.1:1", appId: "a",\n'
        '  signingKey: "k" });\n'
        'const runs: Promise<RunSummary[]> = client.searchRuns({}).then((page) => page.runs);\n'
        'const version: string = SDK_VERSION;\n'
        'export { fn, runs, version, DurableError };\n')
    (project / "tsconfig.json").write_text(json.dumps({"compilerOptions": {
        "strict": True, "noEmit": True, "module": "NodeNext", "moduleResolution": "NodeNext",
        "target": "ES2022", "types": ["node"],
        "typeRoots": [str(ROOT / "sdks/ts/node_modules/@types")]}, "files": ["check.ts"]}))
    run("node", ROOT / "sdks/ts/node_modules/typescript/bin/tsc", "-p", project, cwd=project)


def test_ts_quick_start(work: Path, dist: Path, engine: Engine, app_ports: dict[str, int]) -> None:
    project = _npm_project(work, dist)
    (project / "server.mjs").write_text(quick_start(ROOT / "sdks/ts/README.md"))
    key = new_key()
    env = dict(engine.env, DURABLE_DEV="1", DURABLE_SIGNING_KEY=key, PORT=str(app_ports["ts"]))
    app = Process(["node", "server.mjs"], project / "app.log", project, env).start()
    try:
        workspace = engine.dev_app(engine.app_urls["ts"], key)
        receipt = engine.cli("send", "user.created", "--data", '{"userId": "u2"}', app=workspace)
        done = engine.wait_run(workspace, receipt["runIds"][0], "completed")
        assert done["output"] == {"user": {"id": "u2", "plan": "free"}}
    finally:
        app.stop()


def test_php_quick_start_from_composer(work: Path, engine: Engine,
                                       app_ports: dict[str, int]) -> None:
    """`composer require` from a path repository, no network; the README's client sends."""
    project = work / "php"
    (project / "public").mkdir(parents=True)
    (project / "composer.json").write_text(json.dumps({
        "name": "me/my-app",
        "repositories": [{"type": "path", "url": str(ROOT / "sdks/php"),
                          "options": {"symlink": False}}, {"packagist.org": False}],
        "require": {"durable/durable-sdk": "*@dev"}}))
    env = dict(engine.env, COMPOSER_HOME=str(work / "composer"), COMPOSER_ALLOW_SUPERUSER="1",
               COMPOSER_NO_INTERACTION="1")
    run("composer", "install", "--no-progress", cwd=project, env=env)
    assert (project / "vendor/durable/durable-sdk/src/Handler.php").is_file()
    assert not (project / "vendor/durable/durable-sdk").is_symlink()
    readme = (ROOT / "sdks/php/README.md").read_text()
    (project / "public/index.php").write_text(quick_start(ROOT / "sdks/php/README.md"))
    key = new_key()
    port = app_ports["php"]
    app = Process(["php", "-S", f"127.0.0.1:{port}", "public/index.php"], project / "app.log",
                  project, dict(env, DURABLE_DEV="1", DURABLE_SIGNING_KEY=key)).start()
    try:
        workspace = engine.dev_app(engine.app_urls["php"], key)
        send = re.search(r"Send an event from anywhere.*?```php\n(.*?)```", readme, re.S)
        assert send, "sdks/php/README.md: no client example"
        code = (send.group(1).replace("'http://localhost:3030'", repr(engine.url))
                .replace("'<app id>'", repr(workspace["id"]))
                .replace("'<workspace key>'", repr(key)))
        (project / "send.php").write_text("<?php\nrequire __DIR__ . '/vendor/autoload.php';\n"
                                          + code + "\necho json_encode($receipt);\n")
        run_id = json.loads(run("php", "send.php", cwd=project))["runIds"][0]
        engine.wait_run(workspace, run_id, "waiting")
        engine.cli("send", "user.replied", "--data", '{"userId": 42}', app=workspace)
        done = engine.wait_run(workspace, run_id, "completed")
        assert done["output"] == {"greeting": "Hello Ada", "replied": True}
    finally:
        app.stop()
