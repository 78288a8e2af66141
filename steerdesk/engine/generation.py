"""Baseline and steered continuations of one prompt, decoded together as one batch.

Row 0 is the baseline; row r carries variant r - 1. All rows share the prompt, so there is no
padding, and one KV cache serves them all. Sampling is coupled: every row draws its token with
the same Gumbel noise, so two rows with the same distribution pick the same token and any
difference between them comes from steering alone. With `request.prompted`, one more row comes
last: the instructed prompt, unsteered, as a batch of its own (engine/prompted.py says why).

`stream()` yields a `PromptEvent`, then one `StepEvent` per decoding step, then a `DoneEvent`.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch

from steerdesk.engine.errors import InputError
from steerdesk.engine.prompt_fit import context_limit, fit_prompt
from steerdesk.engine.prompt_fit import position_limit as _position_limit
from steerdesk.engine.prompt_text import IncrementalText, encode_prompt  # noqa: F401  (re-exported)
from steerdesk.engine.prompt_text import prompt_logprobs as _prompt_logprobs
from steerdesk.engine.sampling import CoupledSampler, _top_p_filter  # noqa: F401  (re-exported)
from steerdesk.engine.session import Session
from steerdesk.engine.steering import SteeringHook, SteeringSpec

log = logging.getLogger(__name__)


@dataclass
class GenerationRequest:
    prompt: str
    variants: list[SteeringSpec] = field(default_factory=list)
    max_new_tokens: int = 48
    temperature: float = 0.0          # 0: greedy
    top_p: float = 1.0
    top_k: int = 0                    # sampling: keep the k likeliest tokens; 0: all
    seed: int | None = 0
    repetition_penalty: float = 1.0
    chat: bool = False
    watch: list[int] = field(default_factory=list)
    top_k_features: int = 0           # >0: a full SAE encode per step, top-k per row
    prompt_logprobs: bool = False     # also each prompt token's log-prob, per row
    positions: str = "all"            # "all" or "generated"
    stop_at_eos: bool = True
    fit_prompt: bool = False          # cut a too-long prompt's start to fit (else an error)
    compile: bool | None = None       # the compiled decode step; None: where it is the default
    prompted: str | None = None       # an instruction: one more, unsteered row (engine/prompted.py)

    # Longer runs are a typo (10000000000) rather than a wish: each token costs a forward pass.
    MAX_NEW_TOKENS = 65_536

    def validate(self) -> None:
        """Every field in range, with one sentence naming the field where one is not."""
        from steerdesk.engine.values import check_number, check_whole

        check_whole("max new tokens", self.max_new_tokens, 0, self.MAX_NEW_TOKENS,
                    field="max_new_tokens")
        check_number("temperature", self.temperature, "0 (greedy) or more", lambda x: x >= 0,
                     field="temperature")
        check_number("top-p", self.top_p, "in (0, 1]", lambda x: 0 < x <= 1, field="top_p")
        check_whole("top-k", self.top_k, 0, None, field="top_k", expected="0 (off) or more")
        check_number("repetition penalty", self.repetition_penalty, "above 0", lambda x: x > 0,
                     field="repetition_penalty")
        check_whole("top features per token", self.top_k_features, 0, field="top_k_features")
        if self.seed is not None:
            check_whole("seed", self.seed, 0, 2 ** 63 - 1, field="seed")
        for i in self.watch:
            check_whole("watched feature", i, 0, field="watch")
        from steerdesk.engine.prompted import check_instruction

        check_instruction(self.prompted)


MAX_NEW_TOKENS = GenerationRequest.MAX_NEW_TOKENS


@dataclass
class RowToken:
    token_id: int | None              # None once the row has finished
    text: str                         # the text this token adds (pieces join to the full text)
    logprob: float | None             # natural log-probability under this row's own distribution
    activations: list[float]          # watched features, in request.watch order
    top_features: list[tuple[int, float]]
    finished: bool
    rules_held: list[int] = field(default_factory=list)     # this row's variant's rules that
    rules_acting: list[int] = field(default_factory=list)   # held here / steered this position


@dataclass
class StepEvent:
    step: int
    rows: list[RowToken]


@dataclass
class PromptEvent:
    token_ids: list[int]
    token_texts: list[str]
    activations: list[list[list[float]]]   # [row][position][watched feature]
    top_features: list[list[list[tuple[int, float]]]]  # [row][position][k]
    row_names: list[str]
    chat_template_used: bool
    logprobs: list[list[float | None]] | None = None   # [row][position], when asked for
    prompt_cut: int = 0               # tokens cut from the prompt's start to fit (fit_prompt)
    context: int | None = None        # the model's positions, where known
    # The prompted row (request.prompted): its index (the last row), and its own prompt, which
    # its [row][position] entries above follow instead of token_ids.
    prompted_row: int | None = None
    prompted_token_ids: list[int] | None = None
    prompted_token_texts: list[str] | None = None


@dataclass
class DoneEvent:
    reason: str                       # "length", "eos" or "cancelled"
    texts: list[str]
    steps: int
    seconds: float
    first_token_seconds: float | None
    decode: str = "eager"             # "compiled", "eager", or "eager: why not compiled"


Event = PromptEvent | StepEvent | DoneEvent
CancelCheck = Callable[[], bool]


class _Forward:
    """The model's forward pass as generation calls it, written once for every transformers
    release steerdesk takes: the KV cache goes in and comes out as `cache` where the forward
    takes that name (transformers 5.2x renamed `past_key_values`, which now warns on every
    call) and as `past_key_values` before. The prompt's pass asks for its last position's
    logits only (`logits_to_keep=1`) where the forward takes it, as transformers' generate
    does: for Llama 3.2 1B that is a fifth of the prompt's compute and 128k floats a token."""

    def __init__(self, model):
        self.model = model
        try:
            params = inspect.signature(model.forward).parameters
        except (TypeError, ValueError):
            params = {}
        self.cache_arg = "cache" if "cache" in params else "past_key_values"
        self.keep = {"logits_to_keep": 1} if "logits_to_keep" in params else {}

    def __call__(self, input_ids: torch.Tensor, cache=None, *, prompt: bool = False):
        """(cache, last logits [rows, vocab]) after feeding `input_ids` on top of `cache`."""
        kwargs = dict(self.keep) if prompt else {}
        if cache is not None:
            kwargs[self.cache_arg] = cache
        with torch.inference_mode():
            out = self.model(input_ids=input_ids, use_cache=True, **kwargs)
        new = out.get("cache")
        if new is None:  # outputs of transformers before the rename
            new = out.get("past_key_values")
        return new, out.logits[:, -1, :]


def _widening(hook: SteeringHook, rows: int) -> Callable[[torch.Tensor], torch.Tensor | None]:
    """The hook as installed. A one-row prompt pass (see `_prefill`) that steers nothing in the
    prompt reaches it with one row: it reads that row as every row's (a view, no copy) and the
    model goes on with one row."""
    def fn(hidden: torch.Tensor) -> torch.Tensor | None:
        if hidden.shape[0] == 1 and rows > 1:
            hidden = hidden.expand(rows, *hidden.shape[1:])
        return hook(hidden)
    return fn


def _widen_input(module: torch.nn.Module, rows: int):
    """A pre-hook, ahead of all others, that widens the one-row input of the hooked module to
    all rows: the rows are the same up to there, and differ from there on."""
    def wide(t: torch.Tensor) -> torch.Tensor:
        # A real copy, not an expanded view: modules may .view() their input (GPT-2's MLP
        # does), which a stride-0 batch dimension cannot take.
        return t.expand(rows, *t.shape[1:]).contiguous()

    def pre(mod, args, kwargs):
        if args and isinstance(args[0], torch.Tensor) and args[0].shape[0] == 1:
            return (wide(args[0]), *args[1:]), kwargs
        h = kwargs.get("hidden_states")
        if isinstance(h, torch.Tensor) and h.shape[0] == 1:
            return args, {**kwargs, "hidden_states": wide(h)}
        return None
    return module.register_forward_pre_hook(pre, with_kwargs=True, prepend=True)


_WIDENABLE_LAYERS = ("DynamicLayer", "DynamicSlidingWindowLayer")


def _widen_cache(past, rows: int) -> bool:
    """Repeat one-row cache layers (those before the hook) to `rows`. False where the cache is
    of a kind this does not know, or the batch sizes do not add up."""
    layers = getattr(past, "layers", None)
    if not layers or any(type(layer).__name__ not in _WIDENABLE_LAYERS for layer in layers):
        return False
    for layer in layers:
        for name in ("keys", "values"):
            t = getattr(layer, name, None)
            if not isinstance(t, torch.Tensor) or t.shape[0] not in (1, rows):
                return False
    for layer in layers:
        for name in ("keys", "values"):
            t = getattr(layer, name)
            if t.shape[0] == 1 and rows > 1:
                setattr(layer, name, t.repeat(rows, *([1] * (t.dim() - 1))))
    return True


@dataclass
class PrefillCounts:
    """How the prompt passes of this process went: `shared` used the one-row pass, `fallbacks`
    wanted it and fell back to the plain pass with every row (the reason of the last one is in
    `last_fallback`, and each is logged). Read by tests and diagnostics."""

    shared: int = 0
    fallbacks: int = 0
    last_fallback: str | None = None


PREFILL = PrefillCounts()
_WARNED: set[tuple[str, str]] = set()


def _fell_back(model, reason: str) -> None:
    PREFILL.fallbacks += 1
    PREFILL.last_fallback = reason
    key = (type(model).__name__, reason)
    # A warning once per model class and reason; the same again is only worth a debug line.
    level = logging.DEBUG if key in _WARNED else logging.WARNING
    _WARNED.add(key)
    log.log(level, "shared prompt pass not used for %s (%s): the prompt runs once per row",
            type(model).__name__, reason)


def _prefill(forward: _Forward, prompt: torch.Tensor, rows: int, shared: bool,
             widen_at: torch.nn.Module | None = None):
    """The prompt's forward pass: (cache, last logits [rows, vocab]).

    All rows hold the same prompt and differ only from the hook point on, where variants are
    steered. With the hook installed (`shared`), the pass starts with one row: the layers before
    the hooked module run once, not once per row. Where the prompt is steered, the hooked
    module's input is widened to all rows (`widen_at`); where it is not (positions="generated"),
    the whole pass runs one row. The one-row cache layers are then repeated to all rows. Models
    whose cache is of another kind, or that do not take a wider batch mid-pass, get the plain
    pass with every row, and the reason is logged and counted in `PREFILL`."""
    if shared and rows > 1:
        widen = _widen_input(widen_at, rows) if widen_at is not None else None
        try:
            past, logits = forward(prompt[:1], prompt=True)
            if logits.shape[0] not in (1, rows):
                reason = f"the one-row pass gave {logits.shape[0]} rows of logits"
            elif not _widen_cache(past, rows):
                reason = f"a cache of kind {type(past).__name__} that cannot be widened"
            else:
                PREFILL.shared += 1
                return past, logits.expand(rows, -1)
        except (RuntimeError, ValueError, IndexError) as exc:
            # A model that cannot go on wider than it started: the plain pass below.
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        finally:
            if widen is not None:
                widen.remove()
        _fell_back(forward.model, reason)
    return forward(prompt, prompt=True)


def _compiled_forward(session: Session, request: GenerationRequest, hook: SteeringHook, past,
                      prompt_len: int):
    """The compiled step (engine/compiled) when the request asks for it: a `CompiledRun`, or a
    string saying why decoding stays eager, or None when it was not asked for."""
    from steerdesk.engine import compiled

    wanted = request.compile
    if wanted is None:
        wanted = compiled.on_by_default(session.lm.device)[0]
    if wanted and request.prompted is not None:
        from steerdesk.engine.prompted import COMPILE_REASON

        return COMPILE_REASON
    return compiled.start(session, request, hook, past, prompt_len) if wanted else None


def _eos_ids(session: Session) -> set[int]:
    ids: set[int] = set()
    for source in (getattr(session.tokenizer, "eos_token_id", None),
                   getattr(getattr(session.model, "generation_config", None), "eos_token_id", None)):
        if isinstance(source, int):
            ids.add(source)
        elif isinstance(source, (list, tuple)):
            ids.update(int(i) for i in source)
    return ids


def stream(session: Session, request: GenerationRequest,
           cancelled: CancelCheck | threading.Event | None = None) -> Iterator[Event]:
    """Decode baseline + variants together, one event per step. `cancelled` is checked between
    steps; when it is set, the stream ends with DoneEvent(reason="cancelled")."""
    request.validate()
    is_cancelled: CancelCheck = (cancelled.is_set if isinstance(cancelled, threading.Event)
                                 else cancelled or (lambda: False))
    model, tok = session.model, session.tokenizer
    device = session.lm.device
    t0 = time.perf_counter()
    ids, used_template = encode_prompt(tok, request.prompt, request.chat)
    if not ids:
        raise InputError("the prompt is empty and this tokenizer adds no start token; type a prompt")
    side = None
    if request.prompted is not None:
        from steerdesk.engine.prompted import HookSwitch, PromptedRow

        side = PromptedRow(session, request)
    longest = max(len(ids), len(side.ids) if side else 0)
    limit = _position_limit(model)
    cut, context = 0, context_limit(model, limit)
    bos = getattr(tok, "bos_token_id", None)
    if request.fit_prompt:
        ids, cut = fit_prompt(ids, context, request.max_new_tokens, bos, hard=limit is not None)
        if side is not None:   # the instructed prompt is cut the same way, from its start
            side.ids, _ = fit_prompt(side.ids, context, request.max_new_tokens, bos,
                                     hard=limit is not None)
    longest = max(len(ids), len(side.ids) if side else 0)
    if limit is not None and longest + request.max_new_tokens > limit:
        raise InputError(f"the prompt ({longest} tokens) and {request.max_new_tokens} new tokens "
                         f"do not fit in this model's {limit} positions; ask for fewer new tokens "
                         "or give a shorter prompt", field="max_new_tokens")
    rows = 1 + len(request.variants)
    hook = SteeringHook(session.sae, request.variants, positions=request.positions,
                        max_acts=session.max_acts, watch=request.watch,
                        top_k=request.top_k_features)
    gates = hook.gates
    if gates is not None:
        gates.set_text([""] * rows)   # at the prompt's last token no text is generated yet
    main_hooked = hook.steers or hook.reads or gates is not None
    switch = (HookSwitch(_widening(hook, rows) if main_hooked else None, side.side)
              if side is not None and (main_hooked or side.side) else None)
    handle = (session.hook.register(switch or _widening(hook, rows))
              if switch or main_hooked else None)
    n_watch, k = len(request.watch), hook.top_k
    run = None
    try:
        prompt = torch.tensor([ids], dtype=torch.long, device=device).expand(rows, -1)
        forward = _Forward(model)
        past, logits = _prefill(forward, prompt, rows, shared=main_hooked,
                                widen_at=(session.hook.module if hook.steers_now
                                          else None))
        hook.in_prefill = False
        texts = [tok.decode([i], skip_special_tokens=False) for i in ids]
        watch_rows = hook.last_watch.tolist() if n_watch else [[[] for _ in ids]] * rows
        top_rows = ([[list(zip(i, v)) for i, v in zip(ti, tv)]
                     for ti, tv in zip(hook.last_top[1].tolist(), hook.last_top[0].tolist())]
                    if k else [[[] for _ in ids]] * rows)
        prompt_lp = _prompt_logprobs(model, prompt, hook) if request.prompt_logprobs else None
        names = ["baseline"] + [v.describe(session.label_of) for v in request.variants]
        event = PromptEvent(ids, texts, watch_rows, top_rows, names, used_template, prompt_lp,
                            cut, context)
        if side is not None:
            side.prefill(switch)
            side.add_to(event)
        yield event
        decode = "eager"
        run = _compiled_forward(session, request, hook, past, len(ids))
        if isinstance(run, str):
            decode, run = f"eager: {run}", None
        elif run is not None:
            forward = run
            if handle is not None:
                handle.remove()   # the compiled step carries its own hook
        sampler = CoupledSampler(request, rows, logits.shape[-1], device, prompt[0])
        eos = _eos_ids(session) if request.stop_at_eos else set()
        finished = [False] * rows
        if gates is not None:   # the prompt's last token read; a stop rule may have held
            gates.step()
            finished = [gates.row_flags(r)[2] for r in range(rows)]
        main_done = all(finished)
        decoders = [IncrementalText(tok) for _ in range(rows)]
        reason, step, first = "length", 0, None
        pending = None   # tokens whose forward pass waits until the next step is asked for
        for step in range(request.max_new_tokens):
            if is_cancelled():
                reason = "cancelled"
                break
            if pending is not None and not main_done:
                past, logits = forward(pending.unsqueeze(1), past)
                pending = None
            if not main_done:   # once they have all ended, only the prompted row goes on
                tokens, logprobs = sampler(logits)
            token_list = tokens.tolist()
            need_forward = not main_done and (step + 1 < request.max_new_tokens or hook.reads)
            now = hook.reads or (gates is not None and need_forward)   # the event reports it
            newly_done = [not finished[r] and token_list[r] in eos for r in range(rows)]
            pieces = ["" if finished[r] or newly_done[r] else decoders[r].push(token_list[r])
                      for r in range(rows)]
            if gates is not None and gates.patterns:   # text holds from this token's position
                gates.set_text([d.text for d in decoders])
            feed = tokens.clone()
            if need_forward and now:
                # The event reports this token's activations, which its forward pass computes.
                past, logits = forward(feed.unsqueeze(1), past)
            elif need_forward:
                # Nothing to read: show the token first, compute the next one after.
                pending = feed
            # One transfer per step for everything the event reports; the rules' signals ride
            # along with the log-probs, and their state moves on on the host.
            if gates is None:
                lp = logprobs.tolist()
            elif need_forward:
                lp = gates.step(logprobs)
            else:
                gates.skip()   # the last token, whose own pass is not run: nothing is read
                lp = logprobs.tolist()
            acts = hook.last_watch[:, -1, :].tolist() if n_watch else [[] for _ in range(rows)]
            tops = ([list(zip(i, v)) for i, v in zip(hook.last_top[1][:, -1].tolist(),
                                                     hook.last_top[0][:, -1].tolist())]
                    if k else [[] for _ in range(rows)])
            row_tokens = []
            for r in range(rows):
                if finished[r]:
                    row_tokens.append(RowToken(None, "", None, [], [], True))
                    continue
                held, acting, stop = gates.row_flags(r) if gates is not None else ([], [], False)
                finished[r] = newly_done[r] or stop
                row_tokens.append(RowToken(token_list[r], pieces[r], lp[r], acts[r], tops[r],
                                           finished[r], held, acting))
            main_done = all(finished)
            if side is not None:
                row_tokens.append(side.step(step, eos))
            if first is None:
                first = time.perf_counter() - t0
            yield StepEvent(step, row_tokens)
            if main_done and (side is None or side.finished):
                reason = "eos"
                step += 1
                break
        else:
            step = request.max_new_tokens
        yield DoneEvent(reason, [d.text for d in decoders] + ([side.decoder.text] if side else []),
                        step,
                        time.perf_counter() - t0, first, run.status if run is not None else decode)
    finally:
        if handle is not None:
            handle.remove()
        if run is not None:
            run.close()


@dataclass
class RowResult:
    name: str
    text: str
    tokens: list[RowToken]
    prompt_activations: list[list[float]]
    prompt_top_features: list[list[tuple[int, float]]]
    prompt_logprobs: list[float | None] | None = None


@dataclass
class GenerationResult:
    prompt: PromptEvent
    rows: list[RowResult]
    done: DoneEvent


def generate(session: Session, request: GenerationRequest,
             cancelled: CancelCheck | threading.Event | None = None,
             on_event: Callable[[Event], None] | None = None) -> GenerationResult:
    """Run `stream` to the end and collect what it said, row by row."""
    prompt = done = None
    tokens: list[list[RowToken]] = []
    for event in stream(session, request, cancelled):
        if on_event:
            on_event(event)
        if isinstance(event, PromptEvent):
            prompt = event
            tokens = [[] for _ in event.row_names]
        elif isinstance(event, StepEvent):
            for r, tok in enumerate(event.rows):
                if tok.token_id is not None:
                    tokens[r].append(tok)
        else:
            done = event
    assert prompt is not None and done is not None
    rows = [RowResult(name, done.texts[r], tokens[r], prompt.activations[r], prompt.top_features[r],
                      prompt.logprobs[r] if prompt.logprobs is not None else None)
            for r, name in enumerate(prompt.row_names)]
    return GenerationResult(prompt, rows, done)
