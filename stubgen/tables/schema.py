"""JSON Schemas for the YAML tables in arch/."""

_IDENT = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"}
_REG = {"type": "string", "pattern": r"^[a-z][a-z0-9]*$"}
# A kernel function's name less its sys_ prefix (MIPS sys_32_personality: 32_personality).
_ENTRY = {"type": "string", "pattern": r"^[A-Za-z0-9_]+$"}
_REGS = {"type": "array", "items": _REG, "uniqueItems": True}
# Directives a table may have an engine put around every body: an allowlist, not a
# pattern (issue 27, class 10: `.text` crashed Keystone with SIGSEGV, `.cfi_startproc`
# aborted LLVM). Only mode settings each engine takes without changing where the bytes
# go; anything else is refused when the tables load, with its file and key.
_MODE_DIRECTIVES = (".set noreorder", ".set reorder", ".set noat", ".set at", ".syntax unified", ".arm", ".thumb",
                    ".code 32")
KEYSTONE_DIRECTIVES = _MODE_DIRECTIVES
LLVM_DIRECTIVES = _MODE_DIRECTIVES + (".option norvc", ".option rvc", ".option norelax", ".option relax",
                                      ".intel_syntax noprefix", ".att_syntax", ".att_syntax prefix")
# After a body, LLVM may be asked only to place the literal pool inside it (ARM).
LLVM_EPILOGUE = (".ltorg",)


def _directives(allowed) -> dict:
    return {"type": "array", "maxItems": 8, "items": {"enum": list(allowed)}}


# mode: one constant, or a list of them OR-ed together (CS_MODE_RISCV64 | CS_MODE_RISCVC).
_MODE = {"oneOf": [_IDENT, {"type": "array", "items": _IDENT, "minItems": 1, "uniqueItems": True}]}
_ENGINE = {
    "type": "object",
    "required": ["arch", "mode"],
    "properties": {"arch": _IDENT, "mode": _MODE, "consts": _IDENT, "prefix": _IDENT, "pc": _REG,
                   # Unicorn's name (after prefix) of a register where it is not the table's.
                   "names": {"type": "object", "propertyNames": _REG,
                             "additionalProperties": {"type": "string", "pattern": r"^[A-Za-z0-9_]+$"}},
                   # Directives the assembler itself puts before every body (MIPS: .set
                   # noreorder); no directive of the text being checked ever reaches it.
                   "preamble": _directives(KEYSTONE_DIRECTIVES),
                   # the decoder's mode for Thumb code (a function whose address has bit 0 set)
                   "thumb_mode": _MODE},
    "additionalProperties": False,
}
_MACRO_TERM = {"type": "string", "pattern": r"^!?[A-Za-z_][A-Za-z0-9_]*$"}
_ONE_LINE = {"type": "string", "pattern": r"^[^\n]{1,300}$"}
# Unicorn: the engine settings, and what a release needs to run this architecture at all.
_UNICORN: dict = {**_ENGINE, "properties": {
    **_ENGINE["properties"],  # type: ignore[dict-item]
    # a CPU model set before anything runs (unicorn issue 1591: PPC64's default runs nothing)
    "cpu_model": _IDENT,
    # registers (Unicorn's names, after prefix) set once at start (PPC64: MSR.LE)
    "init": {"type": "object", "propertyNames": {"type": "string", "pattern": r"^[A-Za-z0-9_]+$"},
             "additionalProperties": {"type": "integer", "minimum": 0}},
    # a mode the PC's low bit selects when a run starts and a register's bit holds while
    # it runs (ARM: Thumb, CPSR bit 5): a run resumed after a trap starts at an address
    # with that bit (Unicorn's name of the register, after prefix)
    # false: a run resumed from the state saved at the trap does not run as the whole run
    # does on this Unicorn (state it keeps outside the saved context): runs start at the entry
    "resumes": {"type": "boolean"},
    # OR-ed into the address a run of the assembled stub starts at, where the PC's low bit
    # selects the state the assembler wrote it for (Thumb: 1; Unicorn runs an even start
    # address as ARM code whatever the mode)
    "entry_low_bit": {"enum": [0, 1]},
    "resume_mode": {"type": "object", "required": ["register", "bit"], "additionalProperties": False,
                    "properties": {"register": {"type": "string", "pattern": r"^[A-Za-z0-9_]+$"},
                                   "bit": {"type": "integer", "minimum": 0, "maximum": 63}}},
    # write the PC after each trap even where the engine already moved it there: it resets
    # state the engine keeps wrongly across the trap (MIPS's branch-delay flag)
    "write_pc_at_trap": {"type": "boolean"},
    # interrupts by which this Unicorn reports a bad address without the address
    "address_fault_interrupts": {"type": "array", "uniqueItems": True, "maxItems": 8,
                                 "items": {"type": "integer", "minimum": 0, "maximum": 255}},
    # instructions (Capstone's mnemonics) this Unicorn cannot run on this architecture: a
    # stub holding one is not emulated, and the report says why
    "cannot_run": {"type": "object", "required": ["mnemonics", "why"], "additionalProperties": False,
                   "properties": {"mnemonics": {"type": "array", "minItems": 1, "uniqueItems": True,
                                                "items": {"type": "string", "pattern": r"^[a-z0-9.+-]+$"}},
                                  "why": _ONE_LINE}},
}}
# LLVM's integrated assembler: the target triple, and directives every body needs
# (RISC-V: .option norvc, so the bytes are the uncompressed ones the stubs ask for).
_LLVM = {
    "type": "object",
    "required": ["triple"],
    "properties": {"triple": {"type": "string", "pattern": r"^[a-z0-9_]+(-[a-z0-9_]+)+$"},
                   "preamble": _directives(LLVM_DIRECTIVES),
                   # per reading syntax (a lower.yaml's `syntax`, "default" without one):
                   # x86 would need .intel_syntax noprefix / .att_syntax
                   "syntax": {"type": "object", "propertyNames": _IDENT, "additionalProperties": _directives(LLVM_DIRECTIVES)},
                   # after each body: ARM's .ltorg puts a literal pool inside the body's symbol
                   "epilogue": _directives(LLVM_EPILOGUE)},
    "additionalProperties": False,
}


# LLVM's C driver (zig cc) for the target: it preprocesses, assembles and compiles what
# `verify FILE` is given that is not machine code yet, and the verifier's stand-ins.
_CC = {
    "type": "object",
    "required": ["target"],
    "properties": {"target": {"type": "string", "pattern": r"^[a-z0-9_]+(-[a-z0-9_]+)+$"},
                   # target options (-m...) and the code model (-fpic: a target without
                   # position-dependent code, which the callers' -fno-pic would refuse)
                   "flags": {"type": "array", "maxItems": 8,
                             "items": {"type": "string", "pattern": r"^(-m[a-z0-9_]+(=[a-z0-9_+.-]+)?|-f(no-)?pic)$"}},
                   # more ways a header's callers are compiled, each a list of flags (arm: Thumb)
                   "variants": {"type": "array", "maxItems": 4, "items": {
                       "type": "array", "maxItems": 4,
                       "items": {"type": "string", "pattern": r"^-m[a-z0-9_-]+(=[a-z0-9_+.-]+)?$"}}},
                   # the target zig cc links the crosscheck's Zig rows for, where the GNU C
                   # library's ABI is not the one of zig build-obj's objects (ppc64: ELF V2)
                   "zig_link": {"type": "string", "pattern": r"^[a-z0-9_]+(-[a-z0-9_]+)+$"}},
    "additionalProperties": False,
}


def _obj(required, properties, optional=None):
    props = dict(properties, **(optional or {}))
    return {"type": "object", "required": list(required), "properties": props, "additionalProperties": False}


# qemu-user driven through its gdbstub (stubgen/verifier/qemu): the harness's ELF machine
# and flags, the gdbstub's register numbers (pc, and each table register by name), the
# byte size of registers narrower than a word, and the signals a deliberate crash raises.
_GDB_NUM = {"type": "integer", "minimum": 0, "maximum": 4095}
_QEMU = _obj(["elf", "pc", "registers"], {
    "elf": _obj(["machine"], {"machine": {"type": "integer", "minimum": 1, "maximum": 65535},
                              "flags": {"type": "integer", "minimum": 0, "maximum": 0xFFFFFFFF}}),
    "pc": _GDB_NUM,
    "registers": {"type": "object", "minProperties": 1, "propertyNames": _REG, "additionalProperties": _GDB_NUM},
    "sizes": {"type": "object", "propertyNames": _REG, "additionalProperties": {"enum": [4, 8]}},
    "crash_signals": {"type": "array", "maxItems": 8, "items": {"type": "integer", "minimum": 1, "maximum": 64}},
    # instructions that enter the kernel (qemu-user would make the syscall for real): the
    # machine never steps one that is not the fake kernel's trap
    "kernel_entry": {"type": "array", "maxItems": 8, "items": _obj(["size", "mask", "value"], {
        "size": {"enum": [2, 4]}, "mask": {"type": "integer", "minimum": 1, "maximum": 0xFFFFFFFF},
        "value": {"type": "integer", "minimum": 0, "maximum": 0xFFFFFFFF}})},
})

# Relative to the kernel source tree, and never out of it.
_KERNEL_PATH = {"type": "string", "pattern": r"^(?!/)(?!.*(^|/)\.\.(/|$))[A-Za-z0-9_.+/-]+$"}
_ABI = {"type": "string", "pattern": r"^[A-Za-z0-9_]+$"}
KERNEL_TABLE = _obj(["path", "abis"], {
    "path": _KERNEL_PATH,
    "abis": {"type": "array", "items": _ABI, "minItems": 1, "uniqueItems": True},
    # Generic architectures share scripts/syscall.tbl and add ABI tags in a Makefile.
    "abis_from": _obj(["path", "variable"], {"path": _KERNEL_PATH, "variable": _IDENT}),
    # Added to every number of the table (MIPS: __NR_Linux, 4000 for o32, 5000 for n64).
    "number_base": {"type": "integer", "minimum": 0},
    # The architecture's directory, whose definitions and headers apply to it (others'
    # never do); by default the arch/<dir> that path or abis_from.path lies under.
    "arch_dir": {"type": "string", "pattern": r"^arch/[A-Za-z0-9_]+$"},
    "extra": _obj(["base", "calls"], {
        "base": {"type": "integer", "minimum": 0},
        "calls": {"type": "object", "minProperties": 1, "propertyNames": _IDENT,
                  "additionalProperties": {"type": "integer", "minimum": 0}},
    }),
})


ARCH = dict(_obj(
    ["name", "gnu_triple", "word_bytes", "endian", "engines", "registers", "stack_pointer",
     "kernel", "c_abi"],
    {
        "name": {"type": "string", "pattern": r"^[A-Za-z0-9_]+$"},
        "aliases": {"type": "array", "items": {"type": "string", "pattern": r"^[A-Za-z0-9_-]+$"}},
        "goarch": {"type": "string", "pattern": r"^[a-z0-9]+$"},
        # Why Go has no linux port here (then no goarch and no go_abi0: the Go dialect refuses it).
        "go_absent": _ONE_LINE,
        # predefined macros that must all be defined; "!NAME": one that must not be (ppc: gcc
        # and clang share no macro only 32-bit PowerPC defines, but ppc64's __powerpc64__)
        "c_macro": {"anyOf": [_IDENT, {"type": "array", "minItems": 1, "items": _MACRO_TERM}]},
        "gnu_triple": {"type": "string", "pattern": r"^[a-z0-9_]+(-[a-z0-9_]+)+$"},
        "qemu_user": {"type": "string", "pattern": r"^qemu-[a-z0-9_]+$"},
        # Why no qemu-user runs this architecture's programs (then a host kernel that
        # cannot run them leaves the real-kernel rows skipped with this reason).
        "qemu_absent": _ONE_LINE,
        # Whose GNU binutils serve this architecture where they are not gnu_triple's own, and
        # the flags their as needs (x32: the host's x86-64 binutils, as --x32).
        "gnu_tools": _obj(["triple"], {
            "triple": {"type": "string", "pattern": r"^[a-z0-9_]+(-[a-z0-9_]+)+$"},
            "as_flags": {"type": "array", "maxItems": 8, "items": {"type": "string", "pattern": r"^--?[a-z0-9_-]+$"}}}),
        # Flags the GNU cross gcc needs for this architecture's C (thumb: -mthumb).
        "gnu_flags": {"type": "array", "maxItems": 8, "items": {"type": "string", "pattern": r"^-m[a-z0-9_-]+(=[a-z0-9_+.-]+)?$"}},
        # The name the PyPI package system-calls gives this architecture (the drift test
        # compares the numbers with it).
        "system_calls": {"type": "string", "pattern": r"^[a-z0-9_]+$"},
        # How the crosscheck builds C programs where the distribution has no GNU cross tools
        # for the architecture: LLVM (zig cc) for a target and flags, and why GNU as/gcc are
        # absent (their rows skip with that reason).
        "c_toolchain": _obj(["zig", "gnu_absent"], {
            "zig": _obj(["target"], {
                "target": {"type": "string", "pattern": r"^[a-z0-9_]+(-[a-z0-9_]+)+$"},
                # -m options, and -fPIC where LLVM's output depends on it for every object
                # (MIPS: .eh_frame's pointer encoding, absolute without it)
                "flags": {"type": "array", "maxItems": 8,
                          "items": {"type": "string", "pattern": r"^(-m[a-z0-9_]+=[a-z0-9_+.-]+|-fPIC)$"}}}),
            "gnu_absent": _ONE_LINE,
            # GNU binutils exist where gcc does not (mipsn32): gnu_absent is about gcc alone.
            "gnu_binutils": {"type": "boolean"}}),
        "word_bytes": {"enum": [4, 8]},
        "endian": {"enum": ["little", "big"]},
        # An assembler (Keystone, LLVM or both: then their bytes must agree), a decoder, an emulator.
        # An engine the architecture does without is left out; absent says why (reports name it).
        "engines": dict(_obj([], {"keystone": _ENGINE, "llvm": _LLVM, "cc": _CC, "capstone": _ENGINE, "unicorn": _UNICORN,
                                  "qemu": _QEMU, "absent": {"type": "object",
                                             "propertyNames": {"enum": ["keystone", "llvm", "cc", "capstone", "unicorn", "qemu"]},
                                             "additionalProperties": _ONE_LINE}}),
                        anyOf=[{"required": ["keystone"]}, {"required": ["llvm"]}]),
        "registers": {"type": "object", "minProperties": 1,
                      "propertyNames": _REG,
                      "additionalProperties": {"type": "string", "pattern": r"^[A-Z][A-Z0-9]*$"}},
        "stack_pointer": _REG,
        "kernel": _obj(["number", "args", "result", "error_range"], {
            "number": _REG,
            "args": dict(_REGS, minItems=4, maxItems=7),
            # Arguments past the registers: read from the caller's stack at the trap,
            # from this offset above sp (MIPS o32: 16), in slots like a C call's.
            "stack_args": {"type": "integer", "minimum": 0, "maximum": 64},
            "stack_slot": {"enum": [4, 8]},
            "pair_stack_align": {"enum": [4, 8]},
            "result": _REG,
            # A register the kernel sets on error, with a positive errno in result
            # (MIPS a3); the stubs turn that into -errno.
            "error_flag": _REG,
            "error_range": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
            "pair_align": {"enum": [1, 2]},
            # The registers the trap or the kernel may change besides the result (x86-64
            # rcx, r11): what inline assembly must declare clobbered. The generator's own
            # statement; the verifier keeps its own (verifier/linux_abi.yaml).
            "clobbers": _REGS,
            # State the kernel may change that the tables name no register for (MIPS hi
            # and lo, PowerPC ctr and xer): the templates spell it for the compiler.
            "clobbers_other": {"type": "array", "items": _IDENT, "uniqueItems": True},
        }),
        "c_abi": _obj(["args", "stack_args", "stack_slot", "return_address", "callee_saved", "result",
                       "stack_align"], {
            "args": _REGS,
            "stack_args": {"type": "integer", "minimum": 0, "maximum": 256},
            "stack_slot": {"enum": [4, 8]},
            "return_address": _REG,
            "callee_saved": _REGS,
            "result": _REG,
            "stack_align": {"enum": [4, 8, 16]},
            "pair_align": {"enum": [1, 2]},
            "pair_stack_align": {"enum": [4, 8]},
            "scratch": _REGS,  # registers a stub may use for its own work
            # C's long and pointers where narrower than a register (x32, n32: 4), and what
            # the stub does to each such argument before the trap: widen (the caller leaves
            # the upper half undefined, the kernel reads the register whole: zero-extend a
            # pointer or unsigned long, sign-extend a long; x32) or keep (the caller's ABI
            # already holds it sign-extended, as the kernel takes it; n32).
            "long_bytes": {"enum": [4]},
            "long_args": {"enum": ["widen", "keep"]},
        }),
        "go_abi0": _obj(["fp", "return_address"], {
            "fp": {"type": "integer", "minimum": 0, "maximum": 64},
            "return_address": _REG,
            "max_align": {"enum": [4, 8]},
            # Registers a stub may use for its own work (o32: arguments it stores for the kernel).
            "scratch": _REGS,
        }),
        "kernel_table": KERNEL_TABLE,
        "signatures": {"$ref": "#/$defs/signatures"},
    }),
    # A Go port (goarch and its ABI0 frame) or the reason there is none.
    oneOf=[{"required": ["goarch", "go_abi0"], "not": {"required": ["go_absent"]}},
           {"required": ["go_absent"], "not": {"anyOf": [{"required": ["goarch"]}, {"required": ["go_abi0"]}]}}],
)

# Provenance is printed into every generated file's header and the manifest: each
# string is one line of plain characters (no "*/" or newline to leave a comment, no NUL)
# and the structure is the importer's: scalars, or lists of small records.
_PROVENANCE_TEXT = {"type": "string", "maxLength": 200, "pattern": r"^[A-Za-z0-9 _.,:;=+@%/()\[\]<>~-]*$"}
_PROVENANCE_SCALAR = {"anyOf": [_PROVENANCE_TEXT, {"type": "integer"}]}
_PROVENANCE_RECORD = {"type": "object", "maxProperties": 32, "propertyNames": _IDENT, "additionalProperties": {
    "anyOf": [_PROVENANCE_SCALAR, {"type": "array", "maxItems": 1024, "items": _PROVENANCE_SCALAR}]}}
_PROVENANCE = {
    "type": "object", "maxProperties": 32, "propertyNames": _IDENT,
    "additionalProperties": {"anyOf": [
        _PROVENANCE_SCALAR, _PROVENANCE_RECORD,
        {"type": "array", "maxItems": 1024, "items": {"anyOf": [_PROVENANCE_SCALAR, _PROVENANCE_RECORD]}}]},
}
NUMBERS = _obj(["numbers"], {
    "provenance": _PROVENANCE,
    "numbers": {"type": "object", "propertyNames": _IDENT,
                "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 0x7fffffff}},
    # The signature (a key of common/signatures.yaml) of each call whose entry point
    # is not sys_<its name>, from the kernel table.
    "entry_points": {"type": "object", "propertyNames": _IDENT, "additionalProperties": _ENTRY},
    # Numbered calls without a signature, and why.
    "untyped": {"type": "object", "propertyNames": _IDENT,
                "additionalProperties": {"type": "string", "pattern": r"^[^\n]+$"}},
    # Numbers whose kernel table row has no entry point (the kernel answers ENOSYS).
    "reserved": {"type": "array", "items": _IDENT, "uniqueItems": True},
})

TYPES = {
    "type": "object",
    "propertyNames": _IDENT,
    "additionalProperties": _obj(["size", "signed", "go", "c"], {
        "size": {"oneOf": [{"const": "word"}, {"enum": [1, 2, 4, 8]}]},
        # The bits of the value the kernel reads, where fewer than the size holds
        # (umode_t: 16 bits of a 32-bit argument).
        "bits": {"enum": [8, 16, 32]},
        "signed": {"type": "boolean"},
        "go": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_.]*$"},
        "c": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_ ]*\**$"},
    }),
}

SIGNATURES = {
    "type": "object",
    "propertyNames": _ENTRY,
    "additionalProperties": _obj(["args", "result"], {
        # Up to six kernel arguments plus the number of a generic stub.
        "args": {"type": "array", "maxItems": 7, "items": _obj(["name", "type"], {
            "name": _IDENT, "type": _IDENT, "go": _IDENT,
            # The kernel's spelling of the type, without __user and qualifiers.
            "c": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_ ]*\**$"},
            # number: the argument is the syscall number (a generic stub); it goes to the
            # kernel's number register and the stub needs no number of its own.
            "role": {"enum": ["number"]}})},
        "result": _IDENT,
        "from": {"type": "string", "pattern": r"^[^\n]+$"},  # where the signature was read
        # noreturn: the stub traps and never comes back (policy noreturn);
        # returns_twice: the call returns in a parent and a child.
        "special": {"enum": ["noreturn", "returns_twice"]},
        "untyped": {"type": "string", "pattern": r"^[^\n]+$"},  # why no typed stub is made
    }),
}
ARCH["$defs"] = {"signatures": SIGNATURES}

# templates/<dialect>/dialect.yaml. Format strings are checked for their placeholders
# separately (render.FIELDS); a path that leaves the output directory is refused when
# writing, after it is resolved.
_TEMPLATE_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9_.{}-]+$"}
DIALECT = _obj(["summary", "dir", "stub_template", "symbol", "files"], {
    "summary": {"type": "string", "pattern": r"^[^\x00-\x1f\x7f]*$"},
    "dir": {"type": "string", "pattern": r"^[A-Za-z0-9_-]+$"},
    "alone_in_output": {"type": "boolean"},
    # false: written only when asked for (-d NAME), not by `generate` without -d
    "default": {"type": "boolean"},
    # {arch: why}: architectures this dialect cannot be written for (the language's
    # compiler has no target there): refused when named, left out otherwise, as Go's
    # dialect is where Go has no port
    "absent": {"type": "object", "additionalProperties": {"type": "string", "pattern": r"^[^\x00-\x1f\x7f]+$"}},
    "stub_template": _TEMPLATE_NAME,
    "symbol": {"type": "string", "pattern": r"^[A-Za-z0-9_{}]+$"},
    "files": {"type": "array", "minItems": 1, "items": _obj(["template", "path", "per"], {
        "template": _TEMPLATE_NAME,
        "path": {"type": "string", "minLength": 1, "pattern": r"^[A-Za-z0-9_./{}-]+$"},
        "per": {"enum": ["arch", "dialect"]},
        "symbols": {"type": "boolean"},
        "skip_empty": {"type": "boolean"},
    })},
    "verify": _obj([], {"reader": _IDENT, "convention": {"enum": ["c_abi", "go_abi0"]}, "reference": _IDENT}),
    # The output language's names: see generator.check_names.
    "names": _obj(["language"], {
        "language": {"type": "string", "pattern": r"^[^\n]*$"},
        "param": {"enum": ["name", "go"]},
        "package": {"type": "boolean"},
        "exported_symbol": {"type": "string", "pattern": r"^[A-Za-z0-9_{}]+$"},
        "keywords": {"type": "array", "items": _IDENT},
        "builtins": {"type": "array", "items": _IDENT},
    }),
})

# templates/<dialect>/<arch>.lower.yaml: how the verifier reads a dialect back. The
# format strings' placeholders and the mutation regexes are checked by render.py.
_FORMAT_TEXT = {"type": "string", "maxLength": 200, "pattern": r"^[\x20-\x7e\t]*$"}
# A frame's prologue or epilogue line is one instruction: never a directive (a riscv64
# epilogue's directive aborted LLVM) and no `;` to put one after it.
_FRAME_LINE = dict(_FORMAT_TEXT, pattern=r"^(?!frame\?[ \t]*[^A-Za-z \t])(frame\?)?[ \t]*[A-Za-z]"
                                                r"[\x20-\x3a\x3c-\x7e\t]*$")
_LINK_SYMBOL = {"type": "string", "pattern": r"^\.?[A-Za-z_][A-Za-z0-9_]*\.?$"}
_MUTATION = {"oneOf": [
    _obj(["find", "replace"], {"find": dict(_FORMAT_TEXT, minLength=1), "replace": _FORMAT_TEXT}),
    _obj(["swap"], {"swap": {"type": "array", "minItems": 1, "items": {
        "type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "string", "pattern": r"^[A-Za-z0-9_.]+$"}}}}),
]}
LOWER = _obj([], {
    "syntax": {"enum": ["att", "intel", "nasm", "masm", "gas", "radix16"]},
    "line_comment": {"type": "string", "minLength": 1, "maxLength": 2, "pattern": r"^[#@;!/|]+$"},
    "real_assembler": {"enum": ["bytes", "instructions"]},
    "unchecked_aliases": {"type": "array", "items": {"type": "string", "pattern": r"^[a-z][a-z0-9.]*$"}},
    "format": _obj([], {"imm": _FORMAT_TEXT, "mem": _FORMAT_TEXT, "pool": _FORMAT_TEXT, "pool_tail": _FORMAT_TEXT,
                        "absolute": _FORMAT_TEXT, "reg": _FORMAT_TEXT}),
    # Bytes each Plan 9 mnemonic moves, for a foreign stub's FP slot widths.
    "operand_bytes": {"type": "object", "propertyNames": {"type": "string", "pattern": r"^[A-Z][A-Z0-9.]*$"},
                      "additionalProperties": {"enum": [1, 2, 4, 8]}},
    # Patterns (mnemonics) of instructions that call out or read thread-local storage:
    # a foreign stub using them cannot be modelled and is reported unverified.
    "foreign": _obj([], {"calls": {"type": "string", "minLength": 1}, "tail": {"type": "string", "minLength": 1},
                         "tls": {"type": "string", "minLength": 1}, "vdso": {"type": "string", "minLength": 1}}),
    # The frame Go's assembler gives a Plan 9 function with locals, or one that calls:
    # frame size = align(N + add, align); prologue, epilogue (epilogue_call: of a
    # function that calls) in the lowered syntax with {size} and {frame} (N); a line
    # starting "frame?" only when N > 0; epilogue_returns: the epilogue is the return.
    "frame": _obj([], {"add": {"type": "integer", "minimum": 0, "maximum": 64},
                       "align": {"type": "integer", "minimum": 1, "maximum": 64},
                       "frameless_call": {"type": "boolean"}, "pseudo_sp": {"type": "integer"},
                       "prologue": {"type": "array", "items": _FRAME_LINE},
                       "epilogue": {"type": "array", "items": _FRAME_LINE},
                       "epilogue_call": {"type": "array", "items": _FRAME_LINE},
                       "epilogue_returns": {"type": "boolean"}}),
    # Plan 9 mnemonics that call (a function with one saves its return address)
    "calls": {"type": "array", "items": {"type": "string", "pattern": r"^[A-Z][A-Z0-9]*$"}},
    # Names Go's assembler reads as numbers (ppc64's condition register bits: CR0SO is 3)
    "constants": {"type": "object", "propertyNames": {"type": "string", "pattern": r"^[A-Z][A-Z0-9]*$"},
                  "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 255}},
    # Other Plan 9 names of registers (ZERO, g, RSP): name -> the name the lowering writes
    "aliases": {"type": "object", "propertyNames": {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9]*$"},
                "additionalProperties": _REG},
    # GNU: a register token of the source (MIPS $2) that is not a number; a regex whose group 1,
    # in Capstone's text, is a register's number the source may have written bare (ppc r3).
    "register_token": {"type": "string", "minLength": 1, "maxLength": 200},
    "decoded_registers": {"type": "string", "minLength": 1, "maxLength": 200},
    # GNU: a register written by number (MIPS $10, group 1): rewritten as its name, the
    # canonical name of the register the tables call R<number> in Plan 9.
    "numbered_register": {"type": "string", "minLength": 1, "maxLength": 200},
    # Symbols the static linker defines (.TOC. too), and suffixes (@PLT) read as the plain symbol.
    "link_symbols": {"type": "array", "items": _LINK_SYMBOL},
    "link_suffixes": {"type": "array", "items": {"type": "string", "pattern": r"^@[A-Za-z]+$"}},
    # Relocation operators read as the verifier's linker resolves them (MIPS %call16(f):
    # the GOT slot, 0 from gp), before any assembler sees the text.
    "link_operands": {"type": "array", "items": _obj(["find", "replace"], {
        "find": dict(_FORMAT_TEXT, minLength=1), "replace": _FORMAT_TEXT})},
    # Where a function's code is labelled, {symbol} being its symbol (ELF V1 PowerPC:
    # ".{symbol}"), and the descriptor the symbol labels instead: the section it must sit
    # in and the data directive whose first operand names the code.
    "code_symbol": {"type": "string", "pattern": r"^[.\w$]*\{symbol\}[.\w$]*$"},
    "descriptor": _obj(["section", "directive"], {"section": {"type": "string", "pattern": r"^\.[\w.]+$"},
                                                  "directive": {"type": "string", "pattern": r"^\.[a-z0-9]+$"}}),
    # The symbol whose value is the GOT pointer's distance from the address it is added
    # to (MIPS o32 _gp_disp): the verifier's linker makes it land in its fake GOT.
    "got_pointer": _LINK_SYMBOL,
    # Pseudo-instructions that assemble to several instructions (RISC-V call: auipc+jalr).
    "expands": {"type": "object", "propertyNames": {"type": "string", "pattern": r"^[a-z][a-z0-9.]*$"},
                "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 8}},
    # Instructions whose immediates the linker fills (GNU as leaves zeros there).
    "linker_filled": {"type": "array", "items": {"type": "string", "pattern": r"^[a-z][a-z0-9.]*$"}},
    # GNU directives this architecture's stub files use beyond the common ones
    # (realtools.GNU_DIRECTIVES): what a real assembler may be given.
    "directives": {"type": "array", "items": {"type": "string", "pattern": r"^[a-z][a-z0-9_]*$"}},
    # More directives real syscall files of this architecture use (stubgen verify FILE:
    # ARM's unwind tables, MIPS's .cpload), allowed in a foreign file before it is assembled.
    "foreign_directives": {"type": "array", "items": {"type": "string", "pattern": r"^[a-z][a-z0-9_]*$"}},
    # Extra flags for `go tool asm` (riscv64: -d=compressinstructions=0).
    "go_asm_flags": {"type": "array", "items": {"type": "string", "pattern": r"^-[A-Za-z0-9=_.,-]+$"}},
    "subregisters": {"type": "object", "propertyNames": _IDENT, "additionalProperties": {
        "type": "object", "propertyNames": _REG, "additionalProperties": _REG}},
    "rules": {"type": "object", "propertyNames": {"type": "string", "pattern": r"^[A-Z][A-Z0-9]*$"},
              "additionalProperties": {"type": "object",
                                       "propertyNames": {"type": "string", "pattern": r"^[a-z0-9]*(,[a-z0-9]+)*$"},
                                       "additionalProperties": _FORMAT_TEXT}},
    "mutations": {"type": "object", "propertyNames": _IDENT, "additionalProperties": _MUTATION},
})

_ARCH_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9_]+$"}
# What `stubgen verify` needs of a manifest.json, which may have been edited by hand.
MANIFEST = {
    "type": "object", "required": ["files"],
    "properties": {
        "options": {"type": "object", "properties": {"errno_handler": _IDENT}},
        "files": {"type": "array", "items": {
            "type": "object", "required": ["path", "dialect"],
            "properties": {
                "path": {"type": "string", "minLength": 1, "pattern": r"^[^\x00-\x1f\x7f]*$"},
                "dialect": _IDENT,
                "arch": {"anyOf": [_ARCH_NAME, {"type": "null"}]},
                "symbols": {"type": "array", "items": {
                    "type": "object", "required": ["name", "syscall", "number", "arch", "policy"],
                    "properties": {"name": _IDENT, "syscall": _IDENT, "number": {"anyOf": [
                                       {"type": "integer", "minimum": 0, "maximum": 0x7fffffff}, {"type": "null"}]},
                                   "arch": _ARCH_NAME, "policy": _IDENT,
                                   "trap": {"type": "string", "pattern": r"^[A-Za-z0-9_]*$"}}}},
            }}},
    },
}


# No string of a table is longer than this (a 50 MB string is refused, not carried).
MAX_STRING = 256


def _anchor_end(node):
    # jsonschema matches with re.search, where "$" also matches before a final newline:
    # "madvise\n" would pass as a name and carry the newline into a file or a symbol.
    if isinstance(node, dict):
        if node.get("type") == "string":
            node.setdefault("maxLength", MAX_STRING)
        for k, v in node.items():
            if k == "pattern" and isinstance(v, str) and v.endswith("$"):
                node[k] = v[:-1] + r"\Z"
            else:
                _anchor_end(v)
    elif isinstance(node, list):
        for v in node:
            _anchor_end(v)


for _s in (ARCH, NUMBERS, TYPES, SIGNATURES, KERNEL_TABLE, DIALECT, MANIFEST, _PROVENANCE, LOWER):
    _anchor_end(_s)
