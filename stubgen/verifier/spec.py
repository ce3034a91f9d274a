"""What the verifier is asked (a Spec: one stub, as a manifest describes it) and what it
answers (a Report)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .contract import Contract
from .godecl import GoDecl


@dataclass(frozen=True)
class Spec:
    """One stub to check, as the manifest describes it."""

    arch: str
    dialect: str
    symbol: str
    syscall: str
    number: int | None  # None: a generic stub, the caller passes it
    policy: str
    trap: str = ""
    errno_handler: str = "stubgen_errno"
    # True only for text this process rendered from the shipped templates. Anything
    # else (a file read from disk, whatever its hash in the manifest says, or text
    # from a user's --templates) is checked in a child process under limits
    # (isolate.py): the engines hang or crash on some text.
    rendered: bool = True
    path: str = ""  # the file it was read from, as the manifest lists it ("" for text from generate())
    foreign: bool = False  # machine code stubgen did not write: held to Linux's ABI, not stubgen's promises
    own_policy: bool = False  # foreign, yet compiled from stubgen's own wrappers: held to its policy too
    contract: Contract | None = None  # calls and arguments beyond the syscall's own (--stub)
    # A Go function stubgen did not write: its declaration (godecl.GoDecl, read from its
    # package; None: the frame comes from its FP references and the tables' signature)
    # and its ABI (TEXT name<ABIInternal>: "ABIInternal").
    go_decl: GoDecl | None = None
    go_abi: str = ""
    # Where each argument the kernel reads comes from, where --stub says (choice.ArgSource:
    # a parameter, a constant, the address of a frame slot); None: the parameters in order.
    go_args: tuple | None = None
    # Functions the stub calls or jumps to that are not in its input: (symbol, "call" or
    # "tail") pairs, each given a stand-in (standins.py).
    standins: tuple = ()


@dataclass
class Report:
    """What the verifier found for one stub (stubgen.verify returns one per stub, in order).

    ok: it passed every check that ran; problems: why not (each check that failed, with
    the kernel result injected); listing: the disassembly, where it failed; runs: the
    emulated calls; emulated: whether any ran (False where no emulator can run the stub:
    not_run says why, and the other oracles' verdict stands, never counted as an
    emulated pass); warnings: allowed, but worth knowing; agreed: the second assemblers
    whose bytes matched; line: the line of the instruction at fault in the text checked
    (else of the function's start; None where unknown); spec: the stub asked about.
    describe() is the text `stubgen verify` prints for it."""

    spec: Spec
    problems: list[str] = field(default_factory=list)
    listing: str = ""
    runs: int = 0
    warnings: list[str] = field(default_factory=list)  # allowed, but worth knowing
    unverified: list[str] = field(default_factory=list)  # why it could not be checked (foreign stubs)
    agreed: list[str] = field(default_factory=list)  # second assemblers whose bytes matched
    # Oracles that do not exist for this stub, and why (no emulator for the architecture,
    # or instructions the emulator cannot run): the other oracles' verdict stands, but the
    # stub is never counted as emulated.
    not_run: list[str] = field(default_factory=list)
    line: int | None = None  # the line of the instruction at fault in the text, else of the function's start

    @property
    def ok(self) -> bool:
        return not self.problems and not self.unverified

    @property
    def emulated(self) -> bool:
        return self.runs > 0

    def describe(self) -> str:
        s = self.spec
        head = f"{s.arch}/{s.dialect} {s.symbol} ({s.syscall}, policy {s.policy})"
        if self.ok:
            if not self.emulated:
                return f"ok    {head}: not emulated ({'; '.join(self.not_run)})"
            return f"ok    {head}: {self.runs} runs"
        return "\n".join([f"FAIL  {head}"] + [f"      {p}" for p in self.problems[:12]]
                         + ([self.listing] if self.listing else []))
