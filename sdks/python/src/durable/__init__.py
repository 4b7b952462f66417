"""durable: Python SDK for durable workflows served over signed HTTP.

A drop-in superset of dicabrio-durable-sdk 0.1.0 (same names, same wire format) with
async handlers, timestamped signatures, key rotation and step-id occurrences.
"""

from ._version import __version__
from .adapters import asgi, wsgi
from .client import Client, provision_app
from .core import (
    DEFAULT_CAPABILITIES,
    DurableApp,
    Invocation,
    Response,
    handle_request,
    handle_request_async,
)
from .definitions import validate_definition
from .duration import parse_duration
from .errors import (
    BulkEventSendError,
    DefinitionError,
    DurableError,
    EventSendError,
    FailureError,
    InvokeError,
    NonRetriableError,
    RunActionError,
)
from .function import DurableFunction
from .results import (
    Attempt,
    BulkCancelPage,
    BulkRerun,
    BulkRerunPage,
    FunctionSummary,
    RunHistory,
)
from .step import AsyncStep, Step
from .tracing import TraceContext, TracedInvocation, TraceHook, opentelemetry_hook

__all__ = [
    "DEFAULT_CAPABILITIES",
    "AsyncStep",
    "Attempt",
    "BulkCancelPage",
    "BulkEventSendError",
    "BulkRerun",
    "BulkRerunPage",
    "Client",
    "DefinitionError",
    "DurableApp",
    "DurableError",
    "DurableFunction",
    "EventSendError",
    "FailureError",
    "FunctionSummary",
    "Invocation",
    "InvokeError",
    "NonRetriableError",
    "Response",
    "RunActionError",
    "RunHistory",
    "Step",
    "TraceContext",
    "TraceHook",
    "TracedInvocation",
    "__version__",
    "asgi",
    "handle_request",
    "handle_request_async",
    "opentelemetry_hook",
    "parse_duration",
    "provision_app",
    "validate_definition",
    "wsgi",
]
