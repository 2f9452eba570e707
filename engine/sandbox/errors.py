"""The error raised when sandboxed code breaks the policy or a limit."""

from __future__ import annotations


class SandboxError(Exception):
    """A script or expression broke the sandbox policy; the message is one line of English."""

    def __init__(self, message: str, line_number: int | None = None) -> None:
        super().__init__(message)
        self.line_number = line_number


def _too_large(detail: str) -> SandboxError:
    return SandboxError(f"result too large: {detail}")
