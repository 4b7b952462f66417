"""`python -m durable_fuzz`: start the engine, provision a workspace, fetch the served
/openapi.yaml and run schemathesis (--checks all, bounded, seeded) with signed requests."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import yaml
from durable_engine.validation import spec_dir

from .bundle import bundle
from .engine import ADMIN_TOKEN, Engine
from .signing import ADMIN_ENV, APP_ENV, KEY_ENV


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m durable_fuzz", description=__doc__)
    p.add_argument("--max-examples", type=int, default=25)
    p.add_argument("--seed", type=int, default=20261125)
    p.add_argument("--checks", default="all")
    p.add_argument("--mode", default="all", choices=["positive", "negative", "all"])
    p.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, reports)")
    p.add_argument("extra", nargs="*", help="more schemathesis arguments (after --)")
    return p


def say(line: str) -> None:
    print(f"fuzz: {line}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="durable-fuzz-"))
    engine = Engine(base, args.database_url)
    code = 1
    try:
        engine.start()
        app_id, key = engine.provision()
        say(f"engine on {engine.url}, workspace {app_id}")
        with urllib.request.urlopen(engine.url + "/openapi.yaml", timeout=10) as resp:
            served = yaml.safe_load(resp.read())
        schemas = spec_dir()
        if schemas is None or not (schemas / "schemas").is_dir():
            say("spec/schemas not found (set DURABLE_SPEC_DIR): cannot resolve the $refs")
            return 1
        document, external = bundle(served, schemas / "schemas")
        say(f"served document: {len(served.get('paths', {}))} paths, {len(external)} external "
            f"$refs bundled from {schemas / 'schemas'}")
        bundled = base / "openapi.bundled.yaml"
        bundled.write_text(yaml.safe_dump(document, sort_keys=False))
        st = Path(sys.executable).with_name("schemathesis")
        command = [
            str(st) if st.exists() else "schemathesis", "run", str(bundled),
            "--url", engine.url, "--checks", args.checks, "--mode", args.mode,
            "--max-examples", str(args.max_examples), "--seed", str(args.seed),
            "--generation-deterministic", "--workers", "1", "--request-timeout", "10",
            "--report", "junit", "--report-dir", str(base / "reports"),
            "--no-color", *args.extra]
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "durable_fuzz.hooks", APP_ENV: app_id,
               KEY_ENV: key, ADMIN_ENV: ADMIN_TOKEN}
        say(" ".join(command))
        code = subprocess.run(command, env=env, cwd=base).returncode
        errors = engine.server_errors_logged()
        say(f"schemathesis exit code {code}; server errors logged by the engine: "
            f"{len(errors)}")
        for line in errors[:10]:
            say(f"  {line}")
        if errors and code == 0:
            code = 1
        return code
    finally:
        engine.stop()
        if args.keep or code != 0:
            say(f"logs and reports kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
