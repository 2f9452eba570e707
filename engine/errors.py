"""The engine's own errors: each carries one line a user can read."""

from __future__ import annotations

from dataclasses import dataclass


class JenjangError(Exception):
    """Base of every error the engine raises on purpose; str() is a one-line message."""


class NotFound(JenjangError):
    """Something named by id or key does not exist (or the actor may not see it)."""


class TaskNotFound(NotFound):
    """No open or closed task with this id."""


class InstanceNotFound(NotFound):
    """No process instance with this id."""


class ProcessNotFound(NotFound):
    """No deployed process with this key."""


class DecisionNotFound(NotFound):
    """No deployed decision with this id."""


class UserNotFound(NotFound):
    """No user with this name."""


class NotAllowed(JenjangError):
    """The acting user may not do this."""


class StaleTask(JenjangError):
    """The task was completed, or the instance changed, since it was read."""


class InvalidInput(JenjangError):
    """Input data is malformed (bad JSON, wrong type, unknown value)."""


class InvalidState(JenjangError):
    """The instance or task is not in a state that allows this action."""


@dataclass(frozen=True)
class Problem:
    """One deployment problem: the file, the element and the reason."""

    file: str
    element: str
    message: str
    severity: str = "error"  # "error" refuses the deployment, "warning" does not

    def __str__(self) -> str:
        return f"{self.file}: {self.element}: {self.message}"


class DeploymentRejected(JenjangError):
    """Validation found errors; nothing was stored."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__("; ".join(str(p) for p in errors) or "deployment rejected")
