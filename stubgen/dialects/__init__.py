"""What each dialect's syntax is, shared by writing and reading: the dialects and their
templates (catalog), the sandbox templates render in, the reading rules that say how a
stub reads back (rules), and how names are made (naming)."""

from .catalog import Dialect, dialect, dialects
from .sandbox import call, render_file

__all__ = ["Dialect", "call", "dialect", "dialects", "render_file"]
