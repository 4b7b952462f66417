"""The reference engine with one deliberately broken gRPC handler: IngestEvents ends the
whole stream at the first refused event instead of answering it alone ([GRPC-7]).
Started by test_broken_grpc_engine.py with the arguments of `durable`."""

from __future__ import annotations

import sys
from typing import Any

from durable_engine import cli, grpc_streams
from durable_engine.service import ServiceError

correct = grpc_streams.Streams.ingest_batch


async def ingest_batch(self: Any, workspace_id: str, batch: list[bytes], first: int) -> Any:
    answers, refusal = await correct(self, workspace_id, batch, first)
    for position, answer in enumerate(answers):
        if answer.HasField("error"):
            return answers[:position], ServiceError(answer.error.code, answer.error.message)
    return answers, refusal


grpc_streams.Streams.ingest_batch = ingest_batch  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(cli.main())
