"""Engine API scenarios: the definitions and cron-validity vectors through /fn/sync [DEF-1],
[API-6], [DEF-15], [CRON-1..3].
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..client import Reply
from ..grpc_client import NotExpressible
from ..results import Result
from .api_common import FIRST, error_of, seen, skipped, sync_body
from .workspace import Workspace, workspace

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite


CRON_VALIDITY = {"CRON-1", "CRON-2", "CRON-3"}


def definition_vectors(suite: EngineSuite) -> list[Result]:
    """Each case of spec/vectors/definitions synced behind a valid definition: valid → 200
    listing its runtime id; invalid → 400 INVALID_REQUEST at /functions/1 + errorPath."""
    results: list[Result] = []
    with workspace(suite, {}, sync=False) as ws:
        for case in suite.spec.vectors("definitions"):
            data = case.data
            result = Result(f"sync-{case.id}", "engine", list(dict.fromkeys(
                ["DEF-1", *case.requirements])))
            if skipped(suite, result):
                results.append(result)
                continue
            definition = data["definition"]
            try:
                reply = ws.post("/fn/sync", sync_body([FIRST, definition]))
            except NotExpressible as error:  # over gRPC: a mistyped member has no message
                results.append(result.skip(f"no protobuf form: {error}"))
                continue
            _judge_sync(result, reply, bool(data["valid"]), definition,
                        "/functions/1" + str(data.get("errorPath", "")))
            results.append(result)
        results += duplicate_ids(ws)
        results += invalid_sync_changes_nothing(ws)
        ws.post("/fn/sync", sync_body([]))
    return results


def _judge_sync(result: Result, reply: Reply, valid: bool, definition: Any,
                want_path: str) -> None:
    if valid:
        if reply.status != 200:
            result.fail([], f"a valid definition was refused: {seen(reply)}")
            return
        runtime = f"{definition['id']}@{definition['version']}" if definition.get(
            "version") else definition["id"]
        answer = reply.json()
        if answer.get("ok") is not True or answer.get("functions") != [FIRST["id"], runtime]:
            result.fail(["DEF-1"], f"sync answered {json.dumps(answer)[:200]}, expected ok and"
                                   f" functions {[FIRST['id'], runtime]}")
        return
    code, path = error_of(reply)
    if reply.status != 400 or code != "INVALID_REQUEST":
        result.fail([], f"an invalid definition was answered {seen(reply)}, expected 400"
                        " INVALID_REQUEST")
    elif path != want_path:
        result.fail([], f"error.path {path!r}, expected {want_path!r}")


def invalid_sync_changes_nothing(ws: Workspace) -> list[Result]:
    """[DEF-1]: one invalid definition refuses the whole set; the live set stays as it was."""
    result = Result("sync-invalid-set-changes-nothing", "engine", ["DEF-1", "API-6"])
    kept = {"id": "conf-kept", "trigger": {"event": "conf.api.kept"}}
    fresh = {"id": "conf-fresh", "trigger": {"event": "conf.api.fresh"}}
    reply = ws.post("/fn/sync", sync_body([kept]))
    if reply.status != 200:
        result.fail([], f"sync of one valid definition answered {seen(reply)}")
        return [result]
    reply = ws.post("/fn/sync", sync_body([fresh, {**kept, "retries": 99}]))
    if reply.status != 400:
        result.fail([], f"a set with an invalid definition answered {seen(reply)}")
    for function_id, active in (("conf-kept", True), ("conf-fresh", None)):
        code, answer = ws.api("/versions/status", {"functionId": function_id})
        versions = answer.get("versions", []) if code == 200 else []
        now = versions[0].get("active") if len(versions) == 1 else None
        if (active is None and code != 404) or (active is not None and now is not active):
            result.fail(["DEF-1"], f"after the refused sync /versions/status {function_id}"
                                   f" answered {code} {json.dumps(answer)[:200]}; expected"
                                   f" {'404' if active is None else 'it still active'}")
    return [result]


def duplicate_ids(ws: Workspace) -> list[Result]:
    """[DEF-15]: runtime ids are unique per sync; one id in two versions is fine ([DEF-4])."""
    result = Result("sync-duplicate-runtime-ids", "engine", ["DEF-15", "DEF-4"])
    same = {"id": "dup", "trigger": {"event": "conf.api.dup"}}
    reply = ws.post("/fn/sync", sync_body([FIRST, same, dict(same)]))
    code, path = error_of(reply)
    if reply.status != 400 or code != "INVALID_REQUEST" or path != "/functions/2/id":
        result.fail(["DEF-15"], f"two functions 'dup' answered {seen(reply)}, expected 400"
                                " INVALID_REQUEST at /functions/2/id")
    versioned = [{**same, "version": "1"}, {**same, "version": "1"}]
    reply = ws.post("/fn/sync", sync_body([FIRST, *versioned]))
    code, path = error_of(reply)
    if reply.status != 400 or code != "INVALID_REQUEST" or path != "/functions/2/id":
        result.fail(["DEF-15"], f"two functions 'dup@1' answered {seen(reply)}, expected 400"
                                " INVALID_REQUEST at /functions/2/id")
    versions = [same, {**same, "version": "1"}, {**same, "version": "2"}]
    reply = ws.post("/fn/sync", sync_body(versions))
    if reply.status != 200 or reply.json().get("functions") != ["dup", "dup@1", "dup@2"]:
        result.fail(["DEF-4"], f"'dup', 'dup@1' and 'dup@2' answered {seen(reply)}, expected"
                               " 200 with the three runtime ids")
    return [result]


def cron_vectors(suite: EngineSuite) -> list[Result]:
    """Each case of spec/vectors/cron as a (disabled, so it never fires) cron trigger."""
    results: list[Result] = []
    with workspace(suite, {}, sync=False) as ws:
        for case in suite.spec.vectors("cron"):
            data = case.data
            cited = [r for r in case.requirements if r in CRON_VALIDITY] or ["CRON-1"]
            result = Result(f"sync-{case.id}", "engine", ["DEF-14", *cited])
            if skipped(suite, result):
                results.append(result)
                continue
            definition = {"id": "conf-cron", "trigger": {"cron": data["expr"]},
                          "enabled": False}
            try:
                reply = ws.post("/fn/sync", sync_body([FIRST, definition]))
            except NotExpressible as error:
                results.append(result.skip(f"no protobuf form: {error}"))
                continue
            _judge_sync(result, reply, bool(data["valid"]), definition,
                        "/functions/1/trigger/cron")
            results.append(result)
        ws.post("/fn/sync", sync_body([]))
    return results
