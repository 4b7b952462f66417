"""The convention every operation of the service follows, and the one way a transport calls
one. A request is a frozen dataclass built by `from_json` from a body that has passed the
spec's JSON Schema at the transport (its hand checks raise validation.Invalid or
ServiceError with the path of the member); an answer is a frozen dataclass whose `to_json`
is the wire JSON of the spec's answer schema."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, Self

Body = dict[str, Any]


class Request(Protocol):
    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Self: ...


class Answer(Protocol):
    def to_json(self) -> Body: ...


@dataclass(frozen=True, slots=True)
class Operation:
    """An engine API operation: the Service method that performs it and the request class
    its body becomes."""

    method: str
    request: type[Request]

    async def perform(self, service: Any, workspace_id: str, body: Body) -> Body:
        """parse -> call -> to_json: the answer's wire JSON."""
        act = getattr(service, self.method)
        answer: Answer = await act(workspace_id, self.request.from_json(body))
        return answer.to_json()
