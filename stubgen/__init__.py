"""stubgen: Linux syscall stubs in assembly, generated from tables and verified.

The library's face: every name here is handed on from the stage that defines it, and
imported only when first used, so that `stubgen --help` pays for no engine, Jinja or
YAML."""

from .version import __version__

__all__ = ["generate", "write", "verify", "Options", "Stub", "StubgenWarning", "__version__"]

# name -> the module that defines it
_HANDED_ON = {
    "generate": "stubgen.generator.stubs",
    "Options": "stubgen.generator.stubs",
    "Stub": "stubgen.generator.stubs",
    "StubgenWarning": "stubgen.errors",
    "write": "stubgen.generator.files",
    "verify": "stubgen.verifier.specs",
}


def __dir__():
    # The lazy names are part of the API: dir(stubgen) and completion must show them.
    return sorted(set(globals()) | set(__all__))


def __getattr__(name):
    if name in _HANDED_ON:
        import importlib

        return getattr(importlib.import_module(_HANDED_ON[name]), name)
    raise AttributeError(name)
