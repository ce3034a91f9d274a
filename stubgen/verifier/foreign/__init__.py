"""Stubs stubgen did not write (the Go runtime's sys_linux_*.s, bionic's syscalls/*.S,
musl's syscall.s), read as they are: the dialect told from the text, the file
preprocessed as its own toolchain would (preprocess.py), translated around Keystone's
pitfalls and cut into functions (translate.py, source.py), each checked like a
generated stub and given a verdict (judge.py) under the user's `--stub` choices
(choice.py)."""

from .choice import Choice, parse_choice
from .judge import Verdict, check_files, judge
from .source import Source, read_source

__all__ = ["Choice", "Source", "Verdict", "check_files", "judge", "parse_choice", "read_source"]
