"""Reading and checking the tables (arch/): confined inputs, YAML, schemas, the model,
the cache of validated tables, error policies, engine names and the JSON export.

`load` is handed on lazily: the write path (a warm `stubgen generate`) reads files
through this package without loading any table, and the model's classes cost more to
import than the rest of that path."""

__all__ = ["load"]


def __getattr__(name):
    if name == "load":
        from .loader import load

        return load
    raise AttributeError(name)
