"""Exceptions that reach the user as one line and an exit code."""


class StubgenError(Exception):
    """A user mistake (bad option, bad table, bad template): exit code 2."""

    exit_code = 2


class VerificationFailed(Exception):
    """A stub or a check did not pass: exit code 1."""

    exit_code = 1


# More valid values than this are not listed in an error (every syscall of every
# architecture made a 6 KB line): the near ones are, and where to see them all.
MAX_LISTED = 30


def choices(kind: str, value: str, valid, listed_by: str = "") -> StubgenError:
    """The one-line error for a value that is not among the valid ones: the valid ones
    that are spelt nearly like it first, then every valid one, or where a long list of
    them is (listed_by, e.g. "stubgen list")."""
    import difflib

    valid = sorted(valid)
    near = difflib.get_close_matches(str(value), valid, n=3, cutoff=0.75)
    guess = f" (did you mean {' or '.join(near)}?)" if near else ""
    if len(valid) <= MAX_LISTED or not listed_by:
        return StubgenError(f"unknown {kind} {value!r}{guess}; valid: {', '.join(valid)}")
    return StubgenError(f"unknown {kind} {value!r}{guess}; {listed_by} lists the {len(valid)} valid ones")


class StubgenWarning(UserWarning):
    """Legal output that is probably not what the user wants (a shadowed builtin)."""
