"""stubgen: Linux syscall stubs in assembly, generated from tables and verified."""

__version__ = "0.1.0"

__all__ = ["generate", "write", "verify", "Options", "Stub", "StubgenWarning", "__version__"]


def __dir__():
    # The lazy names are part of the API: dir(stubgen) and completion must show them.
    return sorted(set(globals()) | set(__all__))


def __getattr__(name):
    # Imports are lazy so that `stubgen --help` does not pay for Jinja, YAML or the engines.
    if name in ("generate", "Options", "Stub", "StubgenWarning"):
        from . import generator as g
        return getattr(g, name)
    if name == "write":
        from .output import write
        return write
    if name == "verify":
        from .verifier import verify
        return verify
    raise AttributeError(name)
