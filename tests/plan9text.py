"""Test helper: the instructions of one TEXT symbol in a Plan 9 file, normalised."""
import re


def instructions(text: str, symbol: str) -> list[str]:
    out, inside = [], False
    for line in text.splitlines():
        line = line.split("//")[0].strip()
        if line.startswith("TEXT"):
            inside = line.startswith(f"TEXT ·{symbol}(SB)") or line.startswith(f"TEXT\t·{symbol}(SB)")
            continue
        if inside and line:
            mnemonic, _, ops = line.partition("\t") if "\t" in line else line.partition(" ")
            ops = ", ".join(o.strip() for o in ops.split(","))
            out.append(f"{mnemonic} {ops}".strip())
    return [re.sub(r"\s+", " ", i) for i in out]


def split(seq: str) -> list[str]:
    return [i.strip() for i in seq.split(";")]
