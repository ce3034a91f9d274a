"""Stubs from tables and templates: the stubs (stubs.py), the Go frame layout
(layout.py), the files they make (files.py), written atomically (output.py), and the
cache of a run's files (outcache.py)."""

