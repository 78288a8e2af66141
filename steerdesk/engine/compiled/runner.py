"""The compiled path as the generation loop sees it: `start` after the prompt pass, then one
call per token; and `prepare`, which compiles ahead of a generation with progress shown."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from steerdesk.engine.compiled.decoder import DecodeShape, Progress, StaticDecoder
from steerdesk.engine.compiled.registry import decoder_for, shape_for
from steerdesk.engine.compiled.static_kv import max_length
from steerdesk.engine.compiled.support import unavailable_reason


RULES_EAGER = "rules are evaluated in the eager step only (the compiled step has no rule gates)"


class CompiledRun:
    """`run(input_ids [rows, 1], cache) -> (cache, logits [rows, vocab])` for one generation,
    called as the eager step is (the cache passes through untouched: the static one lives in
    the decoder); the readout lands on the generation's `SteeringHook` (`last_watch`,
    `last_top`) as the eager hook leaves it."""

    def __init__(self, decoder: StaticDecoder, hook):
        self.decoder = decoder
        self.hook = hook
        decoder.guards_checked = False
        self._installed = decoder.installed()
        self._installed.__enter__()
        self.progress: Progress | None = None

    def __call__(self, input_ids: torch.Tensor, cache=None):
        dec = self.decoder
        if not dec.ready:
            dec.warm_up(self.progress)
        logits, readout = dec.step(input_ids[:, 0])
        slots = dec.shape.slots
        if readout:
            if slots.watch:
                self.hook.last_watch = readout[0][..., :len(self.hook.watch)]
            if slots.top_k:
                self.hook.last_top = (readout[-2], readout[-1])
        return cache, logits

    @property
    def status(self) -> str:
        """"compiled", or "eager: why" when compiling failed and the step ran eagerly."""
        return "compiled" if self.decoder.failed is None else f"eager: {self.decoder.failed}"

    def close(self) -> None:
        self._installed.__exit__(None, None, None)


def start(session, request, hook, past, prompt_len: int) -> CompiledRun | str:
    """The compiled decode for this generation, or why the eager path goes on: `past` is the
    prompt pass's cache, copied into the decoder's static one."""
    reason = unavailable_reason(session.lm.device)
    if reason:
        return reason
    if hook.has_rules:
        return RULES_EAGER
    shape = shape_for(hook, prompt_len + request.max_new_tokens, max_length(past))
    dec = decoder_for(session, shape)
    if dec.failed:
        return dec.failed
    problem = dec.kv.load(past, prompt_len)
    if problem:
        return problem
    if dec.buffers is not None:
        dec.buffers.load(hook)
    return CompiledRun(dec, hook)


def _cache_of(out):
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


@dataclass
class CompileReport:
    shape: DecodeShape | None
    compiled: bool
    reason: str | None          # why not, where not compiled
    seconds: float | None       # what compiling took (None: it was compiled before)
    compiles: int               # graphs compiled for this decoder so far


def prepare(session, request, progress: Progress | None = None) -> CompileReport:
    """Compile the decode step that `request` will use, now, reporting progress. A generation
    of the same shape then starts without the wait; one of a new shape compiles its own."""
    from steerdesk.engine.generation import encode_prompt
    from steerdesk.engine.steering import SteeringHook

    report = progress or (lambda f, m: None)
    reason = unavailable_reason(session.lm.device)
    if reason:
        report(1.0, f"Decoding eagerly: {reason}")
        return CompileReport(None, False, reason, None, 0)
    if any(getattr(v, "rules", None) for v in request.variants):
        report(1.0, f"Decoding eagerly: {RULES_EAGER}")
        return CompileReport(None, False, RULES_EAGER, None, 0)
    ids, _ = encode_prompt(session.tokenizer, request.prompt, request.chat)
    hook = SteeringHook(session.sae, request.variants, positions=request.positions,
                        max_acts=session.max_acts, watch=request.watch,
                        top_k=request.top_k_features)
    with torch.inference_mode():   # one token: the cache's layer kinds and sizes
        probe = _cache_of(session.model(input_ids=torch.tensor([ids[:1]], device=session.lm.device),
                                        use_cache=True))
    shape = shape_for(hook, len(ids) + request.max_new_tokens, max_length(probe))
    dec = decoder_for(session, shape)
    was_ready = dec.ready
    if not was_ready and not dec.failed:
        problem = dec.kv.load(probe, 1)
        if problem:
            report(1.0, f"Decoding eagerly: {problem}")
            return CompileReport(shape, False, problem, None, dec.compiles)
        if dec.buffers is not None:
            dec.buffers.load(hook)
        with dec.installed():
            dec.warm_up(report)
    return CompileReport(shape, dec.failed is None, dec.failed,
                         None if was_ready else dec.compile_seconds, dec.compiles)
