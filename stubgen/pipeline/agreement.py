"""The agreement oracle over a big sample: generate the architectures' stubs (both
dialects, raw policy), pick n spread evenly, run each on Unicorn and on QEMU
(verifier/qemu/agree.py) and print how many agreed; exit 1 on any disagreement.

    python -m stubgen.pipeline.agreement -a arm64,riscv64 -n 1000
"""
from __future__ import annotations

import argparse
import sys

from ..generator.stubs import generate
from ..verifier import Verifier, stub_specs
from ..verifier.qemu.agree import both, differences, runs, sample


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m stubgen.pipeline.agreement")
    p.add_argument("-a", "--arch", default="arm64,riscv64")
    p.add_argument("-n", "--count", type=int, default=1000)
    a = p.parse_args(argv)
    v = Verifier()
    names = a.arch.split(",")
    for name in names:
        if not both(v.tables.arch(name)):
            print(f"{name}: the tables do not give it both Unicorn and QEMU", file=sys.stderr)
            return 2
    stubs = generate("all", names, ["plan9", "gnu"], "raw")
    pairs = sample(list(zip(stubs, stub_specs(stubs))), a.count)
    agreed, failed = 0, 0
    for stub, (text, spec) in pairs:
        try:
            diff = differences(v.tables.arch(spec.arch), runs(v, text, spec, "unicorn"), runs(v, text, spec, "qemu"))
        except ValueError as e:
            print(f"skip {spec.arch}/{spec.dialect} {spec.symbol}: {e}")
            continue
        if diff:
            failed += 1
            print(f"DISAGREE {spec.arch}/{spec.dialect} {spec.symbol}: " + "; ".join(diff[:4]))
        else:
            agreed += 1
    print(f"{agreed} of {agreed + failed} stubs agree on Unicorn and QEMU ({', '.join(names)})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
