"""Case results and the checks they are made of."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASS = "pass"
FAIL = "fail"
SKIP = "skipped"
EXPECTED = "expected-fail"  # an expected gap that did fail: shown, not fatal
ERROR = "error"  # the case could not run (harness broke): fatal like a failure


@dataclass
class Result:
    case: str
    area: str
    requirements: list[str]
    status: str = PASS
    reason: str = ""
    failures: list[str] = field(default_factory=list)
    violated: list[str] = field(default_factory=list)
    op: Any = None  # the normalised answer, for the cross-check
    function: str | None = None  # the catalog function a replay case drives

    def fail(self, requirement_ids: list[str], message: str) -> None:
        """Record one failed check; the message is prefixed with the IDs it violates."""
        ids = list(dict.fromkeys(requirement_ids or self.requirements))
        for requirement in ids:
            if requirement not in self.violated:
                self.violated.append(requirement)
            if requirement not in self.requirements:
                self.requirements.append(requirement)
        self.failures.append(f"[{', '.join(ids)}] {message}")
        self.status = FAIL

    def cover(self, requirement_ids: list[str]) -> None:
        """A check that passed: its requirements count as exercised by this case."""
        for requirement in requirement_ids:
            if requirement not in self.requirements:
                self.requirements.append(requirement)

    def skip(self, reason: str) -> Result:
        self.status = SKIP
        self.reason = reason
        return self

    @property
    def unexpected(self) -> bool:
        return self.status in (FAIL, ERROR)

    def line(self) -> str:
        ids = ", ".join(self.violated or self.requirements)
        head = f"{self.status.upper():13} {self.area}/{self.case} [{ids}]"
        if self.status == SKIP:
            return f"{head}: {self.reason}"
        if self.status == EXPECTED:
            return f"{head}: expected gap ({self.reason}): {'; '.join(self.failures)[:300]}"
        if self.failures:
            return head + "".join(f"\n      {failure}" for failure in self.failures)
        return head

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
