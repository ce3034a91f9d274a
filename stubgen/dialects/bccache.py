"""Jinja's compiled templates kept between runs, in the cache (tables/cache.py)."""
from __future__ import annotations

from pathlib import Path

from ..tables import cache

# The sandbox's code shapes the compiled templates (its environment class and settings).
_SANDBOX = Path(__file__).with_name("sandbox.py")


def bytecode_cache(env):
    """A Jinja bytecode cache for env, in a directory of its own for this stubgen,
    this Jinja and env's settings (they change the compiled code, and Jinja's own key
    only covers the template's source and name); None when caching is off."""
    d = cache.directory()
    if d is None or cache.private(d, create=True) is None:
        return None
    import jinja2
    from jinja2.bccache import FileSystemBytecodeCache

    settings = [type(env).__module__, type(env).__qualname__, jinja2.__version__, cache.code_hash(_SANDBOX),
                getattr(env, "sandboxed", False), sorted(getattr(env, "intercepted_binops", ())),
                sorted(getattr(env, "intercepted_unops", ())), env.block_start_string, env.block_end_string,
                env.variable_start_string, env.variable_end_string, env.comment_start_string,
                env.comment_end_string, env.line_statement_prefix, env.line_comment_prefix, env.trim_blocks,
                env.lstrip_blocks, env.newline_sequence, env.keep_trailing_newline, env.optimized,
                env.is_async, repr(env.autoescape), sorted(env.extensions), sorted(env.filters), sorted(env.tests),
                env.finalize is not None]
    where = d / "jinja" / cache.key(settings)[:32]

    class Cache(FileSystemBytecodeCache):
        def load_bytecode(self, bucket):
            try:
                super().load_bytecode(bucket)
            except Exception:  # a corrupt entry (Jinja lets a bad pickle through): compile afresh
                bucket.reset()

        def dump_bytecode(self, bucket):
            try:
                where.mkdir(mode=0o700, parents=True, exist_ok=True)
                super().dump_bytecode(bucket)  # a temporary file, then a rename
            except OSError:
                return
            cache.prune(where)

    return Cache(str(where), "%s.jinja")
