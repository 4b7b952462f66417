"""SDK replay: each SDK's own replay benchmark (1,000 memoized steps in one invoke), run here
so its figure lands beside the engine's. TS runs from nox (`npm run bench`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from typing import Any

from bench.common import RESULTS, ROOT

REPO = ROOT.parent


def run() -> dict[str, Any]:
    out: dict[str, Any] = {}
    script = REPO / "sdks/python/bench/replay.py"
    if script.exists():
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              timeout=300)
        written = RESULTS / "replay-python.json"
        if done.returncode == 0 and written.exists():
            figures = json.loads(written.read_text())
            out["python"] = {"medianMs": figures.get("medianMs"), "p90Ms": figures.get("p90Ms"),
                             "steps": figures.get("steps")}
        else:
            out["python"] = f"not available: replay.py exited {done.returncode}: " \
                            f"{done.stderr.strip()[-300:]}"
    php = shutil.which("php")
    script = REPO / "sdks/php/bench/replay.php"
    if php and script.exists():
        done = subprocess.run([php, str(script)], capture_output=True, text=True, timeout=300,
                              cwd=REPO / "sdks/php")
        try:
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            out["php"] = {"medianMs": figures.get("median_ms", figures.get("medianMs")),
                          "p90Ms": figures.get("p90_ms", figures.get("p90Ms")),
                          "steps": figures.get("steps"), "raw": figures}
        except (IndexError, json.JSONDecodeError):
            out["php"] = f"not available: replay.php exited {done.returncode}: " \
                         f"{(done.stdout + done.stderr).strip()[-300:]}"
    else:
        out["php"] = "not available: php is not installed" if not php else \
            "not available: sdks/php/bench/replay.php is missing"
    out["ts"] = "runs from nox: npm run bench --prefix sdks/ts"
    return out
