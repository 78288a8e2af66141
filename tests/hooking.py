"""Hooks in tests always come off, even when an assertion inside fails (a hook left behind
would change every later test that shares the model)."""

from __future__ import annotations

from contextlib import contextmanager


def installed(hook_point, fn):
    """`fn(hidden) -> new hidden or None` at `hook_point` (a HookPoint) for the with-block:
    the engine's own context manager."""
    return hook_point.installed(fn)


@contextmanager
def module_hook(module, fn, *, pre: bool = False, prepend: bool = False, with_kwargs=False):
    """A plain torch forward (or forward pre-) hook on `module` for the with-block."""
    if pre:
        handle = module.register_forward_pre_hook(fn, prepend=prepend, with_kwargs=with_kwargs)
    else:
        handle = module.register_forward_hook(fn, prepend=prepend, with_kwargs=with_kwargs)
    try:
        yield handle
    finally:
        handle.remove()
