"""stubgen's version, for the package's face, the cache keys and the files it writes."""

__version__ = "0.1.0"
