"""The `client` driver area: a careless engine-API client (unsigned, follows redirects,
never retries, reads any answer) fails each case with its requirement IDs; a careful one
passes them."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from durable_conformance.client_checks import run_client_cases
from durable_conformance.results import FAIL, PASS


def careless(request: dict[str, Any]) -> dict[str, Any]:
    """Unsigned, no retry, follows any redirect, reads any answer."""
    case = request["case"]
    body = json.dumps(case["event"]).encode()
    url = urlsplit(case["engineUrl"] + "/e")
    path = url.path
    for _ in range(3):
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
        conn.request("POST", path, body=body, headers={
            "content-type": "application/json", "x-durable-app": case["appId"],
            "x-durable-signature": "0" * 64})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        if response.status in (301, 302, 307, 308):
            path = response.getheader("location") or path
            continue
        if response.status != 200:
            return {"failed": f"status {response.status}"}
        return {"receipt": json.loads(data)}
    return {"failed": "too many redirects"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def careful(request: dict[str, Any], v1: bool = True) -> dict[str, Any]:
    """Signed (v1 header unless `v1` is False, V2 pair always), retries, no redirect."""
    case = request["case"]
    body = json.dumps(case["event"]).encode()
    opener = urllib.request.build_opener(_NoRedirect)
    for attempt in range(3):
        stamp = str(int(time.time() * 1000))
        key = case["key"].encode()
        base = case["engineUrl"].removesuffix("/")  # [API-23]: one trailing slash dropped
        sent = urllib.request.Request(base + "/e", data=body, method="POST",
                                      headers={
            "content-type": "application/json", "x-durable-app": case["appId"],
            "x-durable-signature": hmac.new(key, body, hashlib.sha256).hexdigest(),
            "x-durable-timestamp": stamp,
            "x-durable-signature-v2": hmac.new(key, stamp.encode() + b"." + body,
                                               hashlib.sha256).hexdigest()})
        if not v1:
            sent.remove_header("X-durable-signature")
        try:
            with opener.open(sent, timeout=10) as response:
                data = response.read(1_048_577)
                if len(data) > 1_048_576:
                    return {"failed": "answer too large"}
                return {"receipt": json.loads(data)}
        except urllib.error.HTTPError as error:
            if error.code < 500 or attempt == 2:
                return {"failed": f"status {error.code}"}
        time.sleep(0.05)
    return {"failed": "unreachable"}


def test_careless_client_fails_each_case_with_its_ids() -> None:
    results = {r.case: r for r in run_client_cases(careless)}
    assert results["client-send-event"].status == FAIL
    assert "SIG-8" in results["client-send-event"].violated
    for case, rule in (("client-no-redirect", "API-5"), ("client-retry-503", "API-24"),
                       ("client-oversized-answer", "API-5")):
        assert results[case].status == FAIL, case
        assert rule in results[case].violated, case


def test_a_v2_only_client_passes_and_a_prefix_dropping_one_fails() -> None:
    """[SIG-8]/[SIG-11]: the V2 pair alone is a valid signature; [API-23]: the base URL's
    path prefix is kept."""
    def v2_only(request: dict[str, Any]) -> dict[str, Any]:
        return careful(request, v1=False)

    def drop_prefix(request: dict[str, Any]) -> dict[str, Any]:
        case = dict(request["case"])
        case["engineUrl"] = case["engineUrl"].rsplit("/", 1)[0]
        return careful({**request, "case": case})

    results = {r.case: r for r in run_client_cases(v2_only)}
    assert results["client-send-event"].status == PASS, results["client-send-event"].failures
    dropped = {r.case: r for r in run_client_cases(drop_prefix)}
    assert dropped["client-send-event"].status == FAIL
    assert "API-23" in dropped["client-send-event"].violated


def test_careful_client_passes_and_covers_v2() -> None:
    results = {r.case: r for r in run_client_cases(careful)}
    assert {case: r.status for case, r in results.items()} == dict.fromkeys(results, PASS)
    assert "SIG-11" in results["client-send-event"].requirements
