"""Exceptions that reach the user as one line and an exit code."""


class StubgenError(Exception):
    """A user mistake (bad option, bad table, bad template): exit code 2."""

    exit_code = 2


class VerificationFailed(Exception):
    """A stub or a check did not pass: exit code 1."""

    exit_code = 1


def choices(kind: str, value: str, valid) -> StubgenError:
    """The one-line error for a value that is not among the valid ones."""
    return StubgenError(f"unknown {kind} {value!r}; valid: {', '.join(sorted(valid))}")


class StubgenWarning(UserWarning):
    """Legal output that is probably not what the user wants (a shadowed builtin)."""
