"""stubgen: Linux syscall stubs in assembly, generated from tables and verified.

    generate(syscalls, arches, dialects, policy, traps, **options) -> list[Stub]
    write(stubs, directory)             the files and manifest.json, atomically
    verify(stubs) -> list[Report]       each stub assembled, decoded and emulated
    architectures(), architecture(name), tables_document()
                                        the tables, typed (Architecture, Syscall, ...)
                                        or as the document of `stubgen list --json`

Bad input raises StubgenError (one line, naming what is valid); a legal but surprising
choice warns with StubgenWarning.

The library's face: every name here is handed on from the stage that defines it, and
imported only when first used, so that `stubgen --help` pays for no engine, Jinja or
YAML."""

from .version import __version__

__all__ = ["generate", "write", "verify", "Options", "Stub", "Report", "StubgenError", "StubgenWarning",
           "architectures", "architecture", "tables_document", "Architecture", "Syscall", "Argument",
           "SyscallResult", "SyscallABI", "__version__"]

# name -> (the module that defines it, its name there)
_HANDED_ON = {
    "generate": ("stubgen.generator.stubs", "generate"),
    "Options": ("stubgen.generator.stubs", "Options"),
    "Stub": ("stubgen.generator.stubs", "Stub"),
    "StubgenError": ("stubgen.errors", "StubgenError"),
    "StubgenWarning": ("stubgen.errors", "StubgenWarning"),
    "write": ("stubgen.generator.files", "write"),
    "verify": ("stubgen.verifier.specs", "verify"),
    "Report": ("stubgen.verifier.spec", "Report"),
    "architectures": ("stubgen.tables.api", "architectures"),
    "architecture": ("stubgen.tables.api", "architecture"),
    "tables_document": ("stubgen.tables.api", "document"),
    "Architecture": ("stubgen.tables.api", "Architecture"),
    "Syscall": ("stubgen.tables.api", "Syscall"),
    "Argument": ("stubgen.tables.api", "Argument"),
    "SyscallResult": ("stubgen.tables.api", "SyscallResult"),
    "SyscallABI": ("stubgen.tables.api", "SyscallABI"),
}

TYPE_CHECKING = False
if TYPE_CHECKING:  # what type checkers see of the lazy names (py.typed ships with the package)
    from .errors import StubgenError, StubgenWarning
    from .generator.files import write
    from .generator.stubs import Options, Stub, generate
    from .tables.api import Architecture, Argument, Syscall, SyscallABI, SyscallResult, architecture, architectures
    from .tables.api import document as tables_document
    from .verifier.spec import Report
    from .verifier.specs import verify


def __dir__():
    # The lazy names are part of the API: dir(stubgen) and completion must show them.
    return sorted(set(globals()) | set(__all__))


def __getattr__(name):
    if name in _HANDED_ON:
        import importlib

        module, attr = _HANDED_ON[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(name)
