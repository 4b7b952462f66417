"""The streams of durable.v1.Engine (§18): IngestEvents ([GRPC-7]), WatchRun ([GRPC-8]) and
WatchRuns ([GRPC-9]), on the same Service and the service's ChangeFeed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import psycopg

from . import signing
from .engine import to_ms
from .grpc_api import (
    ENGINE,
    Context,
    GrpcApi,
    error_message,
    error_of,
    parse,
    refuse,
    request_json,
)
from .pb import convert, engine_messages_pb2, engine_pb2
from .service import ChangeFeed, Resync, ServiceError
from .service.functions import SendEvent, SendEvents
from .service.runs import RunId
from .validation import Invalid

log = logging.getLogger("durable.grpc")

INGEST = f"/{ENGINE.full_name}/IngestEvents"
WATCH_RUN = f"/{ENGINE.full_name}/WatchRun"
WATCH_RUNS = f"/{ENGINE.full_name}/WatchRuns"
TERMINAL = ("completed", "failed", "cancelled", "skipped")
BATCH = 100  # at most eventsPerCall items stored in one transaction
LINGER_S = 0.002  # a stream's items arriving this close together share one transaction
_END = object()


def runtime_matches(wanted: str | None, function_id: str) -> bool:
    """[API-8]: a runtime id, or without "@" every version of an id."""
    if not wanted:
        return True
    return function_id == wanted or ("@" not in wanted and function_id.startswith(wanted + "@"))


class Streams:
    def __init__(self, api: GrpcApi, feed: ChangeFeed) -> None:
        self.api = api
        self.service = api.service
        self.feed = feed

    # ---- IngestEvents --------------------------------------------------------------------

    async def ingest(self, requests: AsyncIterator[bytes], context: Context
                     ) -> AsyncIterator[bytes]:
        try:
            workspace_id, _ = await self.api.authenticate(context, INGEST, b"")
        except ServiceError as error:
            await refuse(context, error)
        queue: asyncio.Queue[Any] = asyncio.Queue(BATCH * 2)

        async def read() -> None:
            try:
                async for item in requests:
                    await queue.put(item)
            finally:
                await queue.put(_END)

        reader = asyncio.create_task(read())
        index = 0
        try:
            while True:
                first = await queue.get()
                if first is _END:
                    break
                batch, ended = [first], False
                for linger in (True, False):
                    while len(batch) < BATCH and not queue.empty():
                        item = queue.get_nowait()
                        if item is _END:
                            queue.put_nowait(_END)
                            ended = True
                            break
                        batch.append(item)
                    if ended or len(batch) >= BATCH or not linger:
                        break
                    await asyncio.sleep(LINGER_S)  # items in flight join this transaction
                answers, refusal = await self.ingest_batch(workspace_id, batch, index)
                for answer in answers:
                    yield answer.SerializeToString()
                index += len(answers)
                if refusal is not None:
                    await refuse(context, refusal)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader

    async def ingest_batch(self, workspace_id: str, batch: list[bytes], first: int
                           ) -> tuple[list[engine_pb2.IngestReceipt], ServiceError | None]:
        """Receipts for the items of one read, in order; the valid events are stored in one
        transaction. A refusal ends the stream after the receipts before it."""
        keys = await self.api.workspace_keys(workspace_id)
        now_ms = to_ms(self.api.engine.clock())
        answers: list[engine_pb2.IngestReceipt] = []
        valid: list[tuple[engine_pb2.IngestReceipt, dict[str, Any]]] = []
        refusal: ServiceError | None = None
        for offset, raw in enumerate(batch):
            answer = engine_pb2.IngestReceipt(index=first + offset)
            try:
                item = parse(engine_pb2.IngestEventRequest, raw)
            except ServiceError as error:
                answer.error.CopyFrom(error_message(error))
                answers.append(answer)
                continue
            problem = "unknown app or invalid signature" if keys is None else \
                signing.verify_grpc_call(keys, item.timestamp or None, item.signature or None,
                                         INGEST, item.event, now_ms)
            if problem is not None:
                refusal = ServiceError("INVALID_SIGNATURE", f"item {first + offset}: {problem}")
                break
            try:
                event = parse(engine_messages_pb2.EventInput, item.event)
                valid.append((answer, request_json(event, "/e")))
            except (ServiceError, Invalid, convert.Mismatch) as error:
                answer.error.CopyFrom(error_message(error_of(error)))
            answers.append(answer)
        if valid:
            await self.store(workspace_id, valid)
        return answers, refusal

    async def store(self, workspace_id: str,
                    valid: list[tuple[engine_pb2.IngestReceipt, dict[str, Any]]]) -> None:
        try:
            stored = await self.service.send_bulk(
                workspace_id, SendEvents(tuple(e for _, e in valid)))
            for (answer, _), receipt in zip(valid, stored.events, strict=True):
                convert.from_json(receipt.to_json(), answer.receipt)
            return
        except psycopg.OperationalError:
            await self.api.engine.pool.check()
        except (ServiceError, Invalid):
            pass  # one event refused by a rule of its own: find it, one by one
        for answer, event in valid:
            try:
                receipt = await self.service.send(workspace_id, SendEvent(event))
                convert.from_json(receipt.to_json(), answer.receipt)
            except Exception as error:  # noqa: BLE001 - reported on this item only
                if not isinstance(error, (ServiceError, Invalid)):
                    log.exception("ingest: unexpected error storing an event")
                answer.error.CopyFrom(error_message(error_of(error)))

    # ---- WatchRun / WatchRuns ------------------------------------------------------------

    async def watch_run(self, request: bytes, context: Context) -> AsyncIterator[bytes]:
        try:
            workspace_id, _ = await self.api.authenticate(context, WATCH_RUN, request)
            body = request_json(parse(engine_messages_pb2.RunIdRequest, request), "/runs/get")
        except (ServiceError, Invalid, convert.Mismatch) as error:
            await refuse(context, error_of(error))
        last: tuple[str, str] | None = None
        async with self.feed.subscribe(workspace_id=workspace_id, run_id=body["runId"]) as sub:
            while True:
                # Read after subscribing: a change stored meanwhile is in the queue.
                try:
                    run = (await self.service.runs_get(workspace_id, RunId.from_json(body))
                           ).to_json()
                except ServiceError as error:
                    await refuse(context, error)
                state = (run["status"], run["updatedAt"])
                if state != last:
                    change = engine_pb2.RunChange(run_id=run["runId"],
                                                  function_id=run["functionId"],
                                                  status=run["status"], at=run["updatedAt"])
                    if run["status"] in TERMINAL:
                        convert.from_json(run, change.run)
                    yield change.SerializeToString()
                    last = state
                if run["status"] in TERMINAL:
                    return
                await sub.get()  # a change or RESYNC: re-read the run either way

    async def watch_runs(self, request: bytes, context: Context) -> AsyncIterator[bytes]:
        try:
            workspace_id, _ = await self.api.authenticate(context, WATCH_RUNS, request)
            message = parse(engine_pb2.WatchRunsRequest, request)
            wanted = message.function_id if message.HasField("function_id") else None
            if wanted is not None and (not wanted or "\x00" in wanted or len(wanted) > 301):
                raise ServiceError("INVALID_REQUEST", "must be a runtime id", "/functionId")
        except ServiceError as error:
            await refuse(context, error)
        async with self.feed.subscribe(workspace_id=workspace_id) as sub:
            async for item in sub:
                if isinstance(item, Resync):  # RESYNC
                    yield engine_pb2.RunChange(resync=True).SerializeToString()
                    continue
                change = item.to_json()
                if runtime_matches(wanted, change["functionId"]):
                    yield engine_pb2.RunChange(
                        run_id=change["runId"], function_id=change["functionId"],
                        status=change["status"], at=change["at"]).SerializeToString()
