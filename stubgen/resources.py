"""Where the shipped tables and templates live: inside the package when installed
from a wheel, beside it in a source checkout."""
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for base in (_PKG, _PKG.parent):
        if (base / name).is_dir():
            return base / name
    raise FileNotFoundError(f"stubgen's {name}/ directory is missing from the installation")


def tables_dir() -> Path:
    return _find("arch")


def templates_dir() -> Path:
    return _find("templates")


def code_dir() -> Path:
    """stubgen's own modules (what shapes the output besides tables and templates)."""
    return _PKG
