"""One compiled decode step: a static KV cache, steering buffers and `torch.compile` of
`model(one token per row)` with the buffer-reading hook inside the traced graph.

The step is traced with `fullgraph=True` (a graph break would leave part of it, perhaps the
hook, to Python) and `dynamic=False` (every shape is fixed by `DecodeShape`). Dynamo caches
graphs per code object and checks guards on each call: two steps, `_step_plain` and
`_step_hooked`, keep graphs traced with and without the steering hook apart, and the hook's
Python branches (clamp or not, readout or not) are guarded on the decoder's fixed slots.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
import contextlib
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from steerdesk.engine.compiled.buffers import Slots, SteeringBuffers
from steerdesk.engine.compiled.static_kv import StaticKV, cache_kwarg
from steerdesk.engine.compiled.support import compile_mode, inductor_cache_dir

log = logging.getLogger("steerdesk.compile")
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class DecodeShape:
    slots: Slots
    length: int        # KV cache positions
    hooked: bool       # whether the steering hook is in the step

    def describe(self) -> str:
        s = self.slots
        parts = [f"{s.rows} row" + ("s" if s.rows != 1 else ""), f"{self.length} positions"]
        if s.clamp:
            parts.append(f"{s.clamp} clamp slots")
        if s.watch:
            parts.append(f"{s.watch} watched")
        if s.top_k:
            parts.append(f"top-{s.top_k}")
        return ", ".join(parts)


def _one_line(exc: BaseException) -> str:
    exc = getattr(exc, "inner_exception", None) or exc   # what the backend itself raised
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:240]


class _CountingBackend:
    """Inductor (or a named backend, for tests) that counts the graphs it is handed: one per
    compilation, recompilations included. On the CPU inductor gets the `cpu_matmul` pass. One instance per (backend, mode) serves every
    decoder: Dynamo only reuses a graph compiled by the same backend object, so a new session
    of a model of the same shape reuses the graphs of the last one."""

    def __init__(self, backend: str, mode: str | None, device_type: str):
        self.count = 0
        if backend == "inductor":
            options = None
            if device_type == "cpu":
                from steerdesk.engine.compiled.cpu_matmul import WeightOnTheLeft

                options = {"post_grad_custom_post_pass": WeightOnTheLeft()}
            self.inner = torch._TorchCompileInductorWrapper(mode, options, False)
        else:
            from torch._dynamo.backends.registry import lookup_backend

            self.inner = lookup_backend(backend)

    def __call__(self, gm, example_inputs):
        self.count += 1
        return self.inner(gm, example_inputs)


_backends: dict[tuple[str, str | None, str], _CountingBackend] = {}
# Dynamo keeps at most `recompile_limit` graphs per function (then runs it uncompiled, with a
# warning); each decode shape is one graph of the two steps below.
RECOMPILE_LIMIT = 64


def _skipping_guards():
    """After a generation's first step has passed Dynamo's guards, nothing they check can
    change until the generation ends (only tensor contents do), so later steps skip all but
    the guards that tell decoders apart: about 0.3 ms of a 8 ms step on the pocket model."""
    try:
        return torch.compiler.set_stance(skip_guard_eval_unsafe=True)
    except (AttributeError, TypeError):   # a torch without this stance
        return contextlib.nullcontext()


def _backend(name: str, mode: str | None, device_type: str) -> _CountingBackend:
    key = (name, mode, device_type)
    if key not in _backends:
        _backends[key] = _CountingBackend(name, mode, device_type)
        cfg = torch._dynamo.config
        cfg.recompile_limit = max(cfg.recompile_limit, RECOMPILE_LIMIT)
    return _backends[key]


class StaticDecoder:
    """Decodes one token per row per call, for generations of one `DecodeShape`."""

    def __init__(self, session, shape: DecodeShape, backend: str = "inductor"):
        self.model = session.model
        self.point = session.hook
        self.sae = session.sae
        self.shape = shape
        self.device = session.lm.device
        self.kv = StaticKV(shape.slots.rows, shape.length)
        self.buffers = SteeringBuffers(session.sae, shape.slots) if shape.hooked else None
        with torch.inference_mode():
            self.ids = torch.zeros(shape.slots.rows, 1, dtype=torch.long, device=self.device)
        torch._dynamo.mark_static_address(self.ids)
        self._cache_kw = cache_kwarg(self.model)
        self._readout: tuple[torch.Tensor, ...] = ()
        self.mode = compile_mode(self.device)
        inductor_cache_dir()
        self._backend = _backend(backend, self.mode, self.device.type)
        self.compiles = 0               # graphs compiled while this decoder ran (0: reused one)
        step = self._step_hooked if shape.hooked else self._step_plain
        self._eager_step = step
        self._compiled = torch.compile(step, backend=self._backend, fullgraph=True, dynamic=False)
        self.ready = False              # compiled and run once
        self.failed: str | None = None  # why compiling failed (the step then runs eagerly)
        self.compile_seconds: float | None = None
        self.guards_checked = False     # reset by each generation; set after its first step

    # ---- the traced steps (two code objects: graphs with and without the hook never mix) --
    def _step_plain(self, ids: torch.Tensor):
        out = self.model(input_ids=ids, use_cache=True, **{self._cache_kw: self.kv.cache})
        return out.logits[:, -1, :], ()

    def _step_hooked(self, ids: torch.Tensor):
        out = self.model(input_ids=ids, use_cache=True, **{self._cache_kw: self.kv.cache})
        return out.logits[:, -1, :], self._readout

    def _hook(self, hidden: torch.Tensor) -> torch.Tensor:
        b = self.buffers
        h = b.steer(hidden.to(b.dtype))
        if b.slots.reads:
            self._readout = b.read(h)
        return h.to(hidden.dtype)

    @contextmanager
    def installed(self) -> Iterator[None]:
        """The buffer hook on the model for the duration (nothing else may run the model then:
        the eager path's own hooks are off while this is on)."""
        handle = self.point.register(self._hook) if self.shape.hooked else None
        try:
            yield
        finally:
            if handle is not None:
                handle.remove()

    # ---- running ----------------------------------------------------------------------------
    def _run(self, ids: torch.Tensor):
        if self.failed is not None:
            return self._eager_step(ids)
        if self.mode == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()
        before = self._backend.count
        if self.ready and self.guards_checked:
            with _skipping_guards():
                return self._compiled(ids)
        if self.ready:
            out = self._compiled(ids)
            self.compiles += self._backend.count - before   # a retrace (guards failed)
            self.guards_checked = True
            return out
        t0 = time.perf_counter()
        try:
            out = self._compiled(ids)
            self.compiles += self._backend.count - before
        except Exception as exc:  # noqa: BLE001 - whatever stops the compiler: eager goes on
            self.failed = f"compiling the decode step failed ({_one_line(exc)})"
            log.warning("steerdesk: %s; decoding eagerly", self.failed)
            return self._eager_step(ids)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.compile_seconds = time.perf_counter() - t0
        self.ready = True
        return out

    def warm_up(self, progress: Progress | None = None) -> None:
        """Compile now (the first call traces and builds; CUDA graphs record on the next calls),
        then rewind the cache: what the warm-up wrote past the prompt is overwritten later."""
        if self.ready or self.failed:
            return
        report = progress or (lambda f, m: None)
        report(0.0, f"Compiling the decode step ({self.shape.describe()}); the first time "
                    "takes a while, later runs reuse torch's cache")
        start = self.kv.positions()
        with torch.inference_mode():
            for _ in range(3 if self.mode == "reduce-overhead" else 1):
                self._run(self.ids)
        self.kv.rewind(start)
        if self.failed:
            report(1.0, f"Not compiled: {self.failed}")
        else:
            report(1.0, f"Compiled the decode step in {self.compile_seconds:.1f} s")

    def step(self, tokens: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Feed one token per used row ([n]); (logits [n, vocab], readout tensors [n, 1, ...]).
        Spare rows are fed the baseline's token."""
        n = tokens.shape[0]
        with torch.inference_mode():
            self.ids[:n, 0].copy_(tokens)
            if n < self.shape.slots.rows:
                self.ids[n:, 0].copy_(tokens[:1].expand(self.shape.slots.rows - n))
            logits, readout = self._run(self.ids)
        return logits[:n], tuple(t[:n] for t in readout)
