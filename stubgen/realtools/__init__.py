"""The other oracles: go vet and go tool asm, GNU binutils, C compilers, qemu-user and the
real kernel (tools.py); their bytes as the verifier's references (references.py); which
of them exist per architecture (oracles.py); and `stubgen crosscheck` (crosscheck/)."""
