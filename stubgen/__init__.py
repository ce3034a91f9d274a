"""stubgen: Linux syscall stubs in assembly, generated from tables and verified."""

__version__ = "0.1.0"

__all__ = ["generate", "write", "verify", "Options", "Stub", "__version__"]


def __getattr__(name):
    # Imports are lazy so that `stubgen --help` does not pay for Jinja, YAML or the engines.
    if name in ("generate", "Options", "Stub"):
        from . import generator as g
        return {"generate": g.generate, "Options": g.Options, "Stub": g.Stub}[name]
    if name == "write":
        from .output import write
        return write
    if name == "verify":
        from .verifier import verify
        return verify
    raise AttributeError(name)
