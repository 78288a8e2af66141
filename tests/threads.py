"""torch's thread count, set for a while and always put back (it is process-wide: a fixture
that leaves it at 1 slows or changes every later test)."""

from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
