"""A static KV cache for the compiled decode step, filled from the eager prompt pass.

The prompt runs eagerly, as in the eager path (one row up to the hook, see
`generation._prefill`), into transformers' DynamicCache. Its keys and values are then copied
into fixed [rows, heads, length, head_dim] tensors (transformers' `StaticLayer`), whose position
counter is a tensor: the compiled step reads and advances it without retracing. Spare rows get
the baseline's keys. Every layer is a plain `StaticLayer`, also for a model's sliding-window
layers: `length` is capped at the window, so no window is ever exceeded and the model's own
mask (built from its config) limits what each layer sees.
"""

from __future__ import annotations

import inspect

import torch

KNOWN_LAYERS = ("DynamicLayer", "DynamicSlidingWindowLayer")
MIN_LENGTH = 256


def length_for(tokens: int, floor: int = MIN_LENGTH) -> int:
    """The cache length for `tokens` positions: a power of two from `floor` up, so that prompts
    of similar length share one compiled step."""
    n = max(int(floor), 1)
    while n < tokens:
        n *= 2
    return n


def cache_kwarg(model) -> str:
    """The name the model's forward takes its cache by (transformers 5: `cache`)."""
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in params else "past_key_values"


def layer_windows(past) -> list[int | None] | str:
    """Each layer's sliding window (None: full attention), or why this cache cannot be copied."""
    layers = getattr(past, "layers", None)
    if not layers:
        return f"the model's cache ({type(past).__name__}) has no per-layer keys to copy"
    windows: list[int | None] = []
    for layer in layers:
        kind = type(layer).__name__
        if kind not in KNOWN_LAYERS:
            return f"the model's cache has {kind} layers, which have no static form here"
        windows.append(getattr(layer, "sliding_window", None) if "Sliding" in kind else None)
    return windows


def max_length(past) -> int | None:
    """The longest cache the model's sliding windows allow (None: no limit)."""
    windows = layer_windows(past)
    if isinstance(windows, str):
        return None
    limits = [w for w in windows if w]
    return min(limits) if limits else None


class StaticKV:
    """`rows` x `length` keys and values per layer, allocated at the first `load`."""

    def __init__(self, rows: int, length: int):
        self.rows = rows
        self.length = length
        self.cache = None

    def _allocate(self, past) -> None:
        from transformers.cache_utils import Cache, StaticLayer

        layers = [StaticLayer(max_cache_len=self.length) for _ in past.layers]
        with torch.inference_mode():
            for layer, src in zip(layers, past.layers):
                k, v = src.keys, src.values
                layer.lazy_initialization(k.new_empty((self.rows, k.shape[1], 0, k.shape[3])),
                                          v.new_empty((self.rows, v.shape[1], 0, v.shape[3])))
        self.cache = Cache(layers=layers)

    def load(self, past, prompt_len: int) -> str | None:
        """Copy the prompt's keys and values from `past` (1 row, or the generation's rows).
        None when done, else why not (the eager path then carries on with `past`)."""
        windows = layer_windows(past)
        if isinstance(windows, str):
            return windows
        if any(w is not None and w < self.length for w in windows):
            return f"the cache of {self.length} positions is longer than the model's sliding window"
        if prompt_len >= self.length:
            return f"the prompt ({prompt_len} tokens) does not fit a cache of {self.length}"
        if self.cache is None:
            self._allocate(past)
        with torch.inference_mode():
            for dst, src in zip(self.cache.layers, past.layers):
                for name in ("keys", "values"):
                    t, buf = getattr(src, name), getattr(dst, name)
                    if t.shape[2] != prompt_len or t.shape[0] > self.rows:
                        return (f"the prompt pass left {tuple(t.shape)} keys, not "
                                f"{prompt_len} positions of at most {self.rows} rows")
                    b = t.shape[0]
                    buf[:b, :, :prompt_len].copy_(t)
                    if b < self.rows:   # spare rows (and all rows after a one-row pass)
                        buf[b:, :, :prompt_len].copy_(t[:1].expand(self.rows - b, -1, -1, -1))
                dst.cumulative_length.fill_(prompt_len)
        return None

    def positions(self) -> int:
        return int(self.cache.layers[0].cumulative_length) if self.cache is not None else 0

    def rewind(self, positions: int) -> None:
        """Set every layer's position counter (after a warm-up step wrote past the prompt)."""
        with torch.inference_mode():
            for layer in self.cache.layers:
                layer.cumulative_length.fill_(positions)
