"""`stubgen list --json`: the tables for other runtimes, in a shape kept stable
(version 1; keys may be added, never renamed). See README, "Machine-readable tables".
The document is made from the typed view the library hands on (api.py), so the two
say the same thing."""
from __future__ import annotations

from .api import VERSION, document_of, view

__all__ = ["VERSION", "document"]


def document(t) -> dict:
    """The version-1 document of loaded tables t."""
    return document_of(view(t))
