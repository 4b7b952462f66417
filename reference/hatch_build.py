"""Build hook: the engine package ships the spec it implements.

The wheel carries `spec/` (openapi.yaml, schemas/, registry.json) as `durable_engine/spec`,
so an installed engine validates requests and serves `/openapi.yaml` from the same files as
a checkout; there is no second copy in the source tree to drift. The sdist carries `spec/`
at its root, so a wheel built from the sdist gets it too. Editable installs read the
checkout's `spec/` directly and get no copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SHIPPED = ("openapi.yaml", "registry.json", "schemas")


class SpecHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            return
        root = Path(self.root)
        spec = next((candidate for candidate in (root.parent / "spec", root / "spec")
                     if (candidate / "openapi.yaml").is_file()), None)
        if spec is None:
            raise RuntimeError("durable-engine: spec/ not found beside reference/ or in the sdist")
        target = "durable_engine/spec" if self.target_name == "wheel" else "spec"
        for name in SHIPPED:
            build_data["force_include"][str(spec / name)] = f"{target}/{name}"
