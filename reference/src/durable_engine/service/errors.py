"""The service layer's one error type: a machine-readable code of the API (spec/registry.json
`errorCodes`), a message for people, and the JSON pointer of the offending input."""

from __future__ import annotations

# httpStatus of each API code in spec/registry.json; transports map codes, not statuses.
HTTP_STATUS = {
    "INVALID_SIGNATURE": 401, "UNAUTHORIZED": 401, "FORBIDDEN": 403, "INVALID_JSON": 400,
    "INVALID_REQUEST": 400, "NOT_FOUND": 404, "UNKNOWN_FUNCTION": 404,
    "METHOD_NOT_ALLOWED": 405, "CONFLICT": 409, "PAYLOAD_TOO_LARGE": 413, "INTERNAL": 500,
}


class ServiceError(Exception):
    def __init__(self, code: str, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.path = path

    @property
    def status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)

    def body(self) -> dict[str, object]:
        error: dict[str, object] = {"code": self.code, "message": self.message}
        if self.path is not None:
            error["path"] = self.path
        return {"error": error}
