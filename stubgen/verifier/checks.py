"""What must hold after one emulated call: the kernel saw the right number and
arguments exactly once, and the caller got back what its convention and the
error policy promise."""
from __future__ import annotations

from .caller import bad_accesses
from .emulator import STEP_LIMIT

INJECTED = (0, 1, -1, -22, -4095, -4096, 0x7FFFFFFF)


def _m(bits: int) -> int:
    return (1 << bits) - 1


def placement(abi, setup, arch):
    """Where the kernel reads each argument (the same for every run of a stub), or why
    the arguments do not fit."""
    try:
        return abi.placement(setup.args, arch.word_bytes, arch.endian)
    except ValueError as e:
        return str(e)


def evaluate(run, setup, *, abi, arch, convention, policy, number, inject, machine, code_len,
             where) -> list[str]:
    p = []
    word_mask = _m(8 * arch.word_bytes)
    is_error = abi.error_range[0] <= inject <= abi.error_range[1]
    if len(run.traps) != 1:
        p.append(f"{len(run.traps)} syscalls, expected exactly one")
    else:
        t = run.traps[0]
        # A generic stub's number is whatever its caller passed; the kernel reads a C int.
        if setup.number is not None:
            number = setup.number & _m(abi.number_bits)
        if t.number & _m(abi.number_bits) != number:
            p.append(f"number register {abi.number} = {t.number:#x} at the trap, expected {number} ({number:#x})")
        if isinstance(where, str):
            p.append(where)
            where = []
        for i, r, want, bits in where:
            got = t.args[r] & _m(bits)
            if got != want:
                size = setup.args[i][1]
                what = f"{8 * size}-bit" if bits == 8 * size else (
                    f"{bits}-bit part of a {8 * size}-bit value" if size > arch.word_bytes else
                    f"{bits} bits the kernel reads of a {8 * size}-bit value")
                p.append(f"argument {i + 1} ({what}) in {abi.args[r]} = {got:#x} at the trap, expected {want:#x}")
    if policy.never_returns:
        # The kernel came back from a call that never returns (the fake kernel always
        # does): the stub must stop itself there, not return into its caller.
        if run.returned:
            p.append("returned from a call that never returns; nothing after the trap may return")
        elif run.steps_exhausted:
            p.append(f"still running after {STEP_LIMIT} instructions instead of stopping after the trap")
    elif policy.crashes_on_error and is_error:
        if run.returned:
            p.append("returned on an error result; the crash policy must crash")
        elif run.steps_exhausted:
            p.append(f"still running after {STEP_LIMIT} instructions instead of crashing")
    elif run.fault:
        p.append(f"fault: {run.fault} at pc {run.pc:#x}")
    elif run.crash:
        p.append(f"crashed ({run.crash}) at pc {run.pc:#x} on a result that is not an error")
    elif run.steps_exhausted:
        p.append(f"did not return within {STEP_LIMIT} instructions (pc {run.pc:#x})")
    else:
        sp = run.regs[arch.stack_pointer]
        if sp != setup.sp_after:
            p.append(f"stack pointer {sp:#x} after return, expected {setup.sp_after:#x} "
                     f"({sp - setup.sp_after:+d} bytes unbalanced)")
        if convention == "c_abi":
            for r in arch.c_abi.callee_saved:
                if run.regs[r] != setup.poisoned[r]:
                    p.append(f"callee-saved {r} = {run.regs[r]:#x} after return, expected {setup.poisoned[r]:#x}")
        p += _result(run, setup, arch, convention, policy, inject, is_error, machine, word_mask)
    # The access that crashed the stub on purpose is not a stray one.
    stops = policy.never_returns or (policy.crashes_on_error and is_error)
    skip_pc = run.pc if stops and (run.fault or run.crash) else None
    p += bad_accesses(run, setup, code_len, policy.returns, skip_pc)
    return p


def _result(run, setup, arch, convention, policy, inject, is_error, machine, word_mask) -> list[str]:
    p = []
    if policy.calls_handler:
        want_calls = [(-inject) & 0xFFFFFFFF] if is_error else []
        got_calls = [a & 0xFFFFFFFF for a in run.handler_args]
        if got_calls != want_calls:
            p.append(f"errno handler called with {got_calls}, expected {want_calls}")
        expected = -1 if is_error else inject
    else:
        expected = inject
        if run.handler_args:
            p.append("called the errno handler")
    if not policy.returns:
        return p
    if convention == "go_abi0":
        addr, size = setup.result_slot
        got = int.from_bytes(machine.uc.mem_read(addr, size), arch.endian)
        if got != expected & _m(8 * size):
            p.append(f"result slot ret at {addr:#x} holds {got:#x}, expected {expected & _m(8 * size):#x}")
    else:
        got = run.regs[arch.c_abi.result]
        if got != expected & word_mask:
            p.append(f"result register {arch.c_abi.result} = {got:#x}, expected {expected & word_mask:#x}")
    return p
