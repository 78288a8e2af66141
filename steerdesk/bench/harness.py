"""Timing steerdesk's generation against plain `model.generate` of the same model.

Every figure is a ratio to plain greedy `model.generate` on the same prompt with the same number
of new tokens: both sides decode greedily and cannot stop early (plain: min_new_tokens =
max_new_tokens; steerdesk: stop_at_eos=False), and the harness checks that both produced exactly
N tokens. Both sides are timed from the prompt string (tokenising included) to the last token.

Modes (one run each per repetition, in an order that rotates from one repetition to the next,
so that a change in the machine's load hits every mode alike):
  plain  model.generate, one row, with a streamer that notes when the first new token exists
  a      steerdesk, baseline only (no hook installed)
  b      steerdesk, baseline + 1 steered variant, one batch of 2 rows
  c      steerdesk, baseline + 4 steered variants (a strength sweep), one batch of 5 rows
  d      (b) with the live readout: watched features + top-k of a full SAE encode at every step
  h, h2, h-  (b)'s steering by one always-true rule (h2: on a classifier), and without rules
  a+..d+ (with --compile) the same with the compiled decode step (see compiled_rows.py)

Ratios are the median over repetitions of the ratio within each repetition (mode / plain of the
same repetition), which cancels slow drifts of the machine's load.
"""

from __future__ import annotations

import ctypes
import gc
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from steerdesk.bench import compiled_rows as cr
from steerdesk.bench import rule_rows as rr
from steerdesk.bench.models import TEXT, open_bench_session, weight_bytes

MODES = ("plain", "a", "b", "c", "d", *rr.RULE_MODES)
STEER_FEATURE = 7
STRENGTH = 8.0
SWEEP = (2.0, 4.0, 8.0, 16.0)
WATCH_EXTRA = 3          # watched features besides the steered one
TOP_K = 8                # what the GUI asks for (steerdesk.ui.controller.TOP_FEATURES_PER_TOKEN)

TARGETS = {  # row letter -> (target, "min" or "max", what the ratio is)
    "a": (0.95, "min"),
    "b": (1.6, "max"),
    "d": (0.85, "min"),   # of (b)'s throughput
    "e": (1.1, "max"),
}

KNOWN_BANDWIDTH_TBS = {"H100": 3.35, "H200": 4.8}


@dataclass
class ModelPlan:
    name: str
    prompt_tokens: int
    new_tokens: int
    repeats: int


# Sized so that the full run finishes in about 10 minutes on a 2-core CPU with one core free.
FULL_PLAN = (ModelPlan("pocket", 128, 64, 5), ModelPlan("gpt2-small", 128, 32, 3),
             ModelPlan("llama-3.2-1b", 64, 16, 3))
QUICK_PLAN = (ModelPlan("pocket", 128, 32, 5),)


@dataclass
class BenchOptions:
    plans: tuple[ModelPlan, ...] = FULL_PLAN
    device: str = "cpu"
    dtype: str = "float32"
    threads: int | None = None
    bandwidth_tbs: float | None = None
    quick: bool = False
    compile: bool = False
    log: Callable[[str], None] = field(default=lambda m: None)


# ---- memory ---------------------------------------------------------------------------------

class PeakMemory:
    """Peak memory of one run above what was in use before it. On the CPU: the process's peak
    resident set (VmHWM, reset through /proc/self/clear_refs, after handing freed heap back to
    the system with malloc_trim); on CUDA: torch's peak allocated bytes."""

    def __init__(self, device: torch.device):
        self.device = device
        self.available = True
        self.before = 0
        self._trim = None
        if device.type == "cpu":
            try:
                self._trim = ctypes.CDLL("libc.so.6").malloc_trim
            except OSError:
                self._trim = None
            self.available = os.path.exists("/proc/self/clear_refs")

    @staticmethod
    def _status_kb(key: str) -> int:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        raise KeyError(key)

    def start(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.before = torch.cuda.memory_allocated(self.device)
            return
        if not self.available:
            return
        if self._trim is not None:
            self._trim(0)
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
                f.write("5")  # reset the peak RSS to the current RSS
            self.before = self._status_kb("VmRSS") * 1024
        except OSError:
            self.available = False

    def peak_extra(self) -> int | None:
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device) - self.before)
        if not self.available:
            return None
        return max(0, self._status_kb("VmHWM") * 1024 - self.before)


# ---- one run of each mode -------------------------------------------------------------------

@dataclass
class RunResult:
    seconds: float
    first_token_seconds: float
    tokens: int            # new tokens per row
    rows: int
    peak_extra_bytes: int | None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _FirstTokenStreamer:
    """The streamer protocol of transformers' generate: put() first gets the prompt, then each
    new token; only the time of the first new token is kept."""

    def __init__(self, t0: float):
        self.t0 = t0
        self.calls = 0
        self.first: float | None = None

    def put(self, value) -> None:
        self.calls += 1
        if self.calls == 2 and self.first is None:
            self.first = time.perf_counter() - self.t0

    def end(self) -> None:
        pass


def run_plain(session, prompt: str, n: int, memory: PeakMemory) -> RunResult:
    model, tok, dev = session.model, session.tokenizer, session.lm.device
    eos = tok.eos_token_id
    gc.collect()
    memory.start()
    t0 = time.perf_counter()
    ids = tok(prompt, add_special_tokens=True)["input_ids"]
    x = torch.tensor([ids], dtype=torch.long, device=dev)
    streamer = _FirstTokenStreamer(t0)
    with torch.inference_mode():
        out = model.generate(x, attention_mask=torch.ones_like(x), do_sample=False,
                             max_new_tokens=n, min_new_tokens=n, pad_token_id=eos,
                             streamer=streamer)
    _sync(dev)
    seconds = time.perf_counter() - t0
    made = int(out.shape[1]) - len(ids)
    if made != n:
        raise RuntimeError(f"plain generate made {made} tokens, not {n}")
    first = streamer.first if streamer.first is not None else seconds
    return RunResult(seconds, first, made, 1, memory.peak_extra())


def steerdesk_request(mode: str, prompt: str, n: int):
    """The request of mode a-d; a+ .. d+ the same with the compiled decode step."""
    from steerdesk.engine.generation import GenerationRequest
    from steerdesk.engine.steering import FeatureSteer, SteeringSpec

    kw: dict[str, Any] = dict(max_new_tokens=n, stop_at_eos=False, compile=mode.endswith("+"))
    one = [SteeringSpec([FeatureSteer(STEER_FEATURE, STRENGTH)])]
    mode = mode.rstrip("+")
    if mode in rr.RULE_MODES:
        return rr.rule_request(mode, prompt, STEER_FEATURE, STRENGTH, kw)
    if mode == "a":
        return GenerationRequest(prompt, **kw)
    if mode == "b":
        return GenerationRequest(prompt, variants=one, **kw)
    if mode == "c":
        sweep = [SteeringSpec([FeatureSteer(STEER_FEATURE, s)]) for s in SWEEP]
        return GenerationRequest(prompt, variants=sweep, **kw)
    if mode == "d":
        watch = [STEER_FEATURE + i for i in range(WATCH_EXTRA + 1)]
        return GenerationRequest(prompt, variants=one, watch=watch, top_k_features=TOP_K, **kw)
    raise ValueError(mode)


def run_steerdesk(session, mode: str, prompt: str, n: int, memory: PeakMemory) -> RunResult:
    from steerdesk.engine.generation import DoneEvent, StepEvent, stream

    request = steerdesk_request(mode, prompt, n)
    rows = 1 + len(request.variants)
    gc.collect()
    memory.start()
    t0 = time.perf_counter()
    first = None
    done = None
    for event in stream(session, request):
        if first is None and isinstance(event, StepEvent):
            first = time.perf_counter() - t0
        elif isinstance(event, DoneEvent):
            done = event
    _sync(session.lm.device)
    seconds = time.perf_counter() - t0
    if done is not None and done.decode != ("compiled" if request.compile else "eager"):
        raise RuntimeError(f"steerdesk mode {mode} decoded {done.decode!r}")
    if done is None or done.steps != n or done.reason != "length":
        raise RuntimeError(f"steerdesk mode {mode} made {getattr(done, 'steps', None)} tokens "
                           f"({getattr(done, 'reason', None)}), not {n}")
    return RunResult(seconds, first if first is not None else seconds, n, rows,
                     memory.peak_extra())


def run_mode(session, mode: str, prompt: str, n: int, memory: PeakMemory) -> RunResult:
    if mode == "plain":
        return run_plain(session, prompt, n, memory)
    return run_steerdesk(session, mode, prompt, n, memory)


# ---- prompts ---------------------------------------------------------------------------------

def make_prompt(tokenizer, tokens: int) -> tuple[str, int]:
    """A prompt of about `tokens` tokens (BOS included), cut from TEXT (repeated as needed),
    and its exact length."""
    text = TEXT
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    while len(ids) < tokens:
        text = text + " " + TEXT
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    with_bos = len(tokenizer("a", add_special_tokens=True)["input_ids"]) > \
        len(tokenizer("a", add_special_tokens=False)["input_ids"])
    keep = max(1, tokens - (1 if with_bos else 0))
    prompt = tokenizer.decode(ids[:keep], skip_special_tokens=True)
    return prompt, len(tokenizer(prompt, add_special_tokens=True)["input_ids"])


# ---- machine ---------------------------------------------------------------------------------

def machine_info(device: torch.device) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        pass
    import transformers

    info: dict[str, Any] = {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem / 2 ** 30, 1) if mem else None,
        "os": platform.platform(), "python": platform.python_version(),
        "torch": torch.__version__, "transformers": transformers.__version__,
        "torch_threads": torch.get_num_threads(), "device": str(device),
        "load_average_at_start": _loadavg()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def default_bandwidth_tbs(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, tbs in KNOWN_BANDWIDTH_TBS.items():
        if key in name:
            return tbs
    return None


# ---- one model -------------------------------------------------------------------------------

def _median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def _target_fields(letter: str, value: float) -> dict[str, Any]:
    if letter not in TARGETS:
        return {}
    target, kind = TARGETS[letter]
    met = value >= target if kind == "min" else value <= target
    return {"target": target, "target_kind": "at least" if kind == "min" else "at most",
            "meets_target": bool(met)}


def bench_model(plan: ModelPlan, opts: BenchOptions) -> dict[str, Any]:
    log = opts.log
    t_build = time.perf_counter()
    session, how = open_bench_session(plan.name, device=opts.device, dtype=opts.dtype)
    build_s = time.perf_counter() - t_build
    dev = session.lm.device
    prompt, prompt_len = make_prompt(session.tokenizer, plan.prompt_tokens)
    n = plan.new_tokens
    w_bytes = weight_bytes(session.model)
    sae_bytes = weight_bytes(session.sae)
    log(f"{plan.name}: {how}; built in {build_s:.1f} s; prompt {prompt_len} tokens, "
        f"{n} new tokens, {plan.repeats} repetitions")
    memory = PeakMemory(dev)
    modes = MODES + (cr.COMPILED_MODES if opts.compile else ())
    compile_info = (cr.compile_modes(session, prompt, n, steerdesk_request, log) if opts.compile
                    else {})

    # Warm-up: every mode once on a short prompt, so that first-call costs (allocator, kernels,
    # lazily built tables) are out of the timings.
    short, _ = make_prompt(session.tokenizer, 8)
    # One full collection, then the survivors (transformers, torch, the model) are frozen out
    # of the collector's sight, so that the collection before each run takes microseconds, not
    # the half second a full pass over them takes.
    gc.collect()
    gc.freeze()
    for mode in modes:
        run_mode(session, mode, short, min(2, n), memory)
    for mode in ("plain", "a"):  # and at the prompt's length, on one row
        run_mode(session, mode, prompt, min(2, n), memory)

    runs: dict[str, list[RunResult]] = {m: [] for m in modes}
    for rep in range(plan.repeats):
        order = modes[rep % len(modes):] + modes[:rep % len(modes)]
        for mode in order:
            r = run_mode(session, mode, prompt, n, memory)
            runs[mode].append(r)
            log(f"  rep {rep + 1}/{plan.repeats} {mode:5s} {r.seconds:8.3f} s  "
                f"first token {r.first_token_seconds:.3f} s")

    def paired(mode: str, f: Callable[[RunResult, RunResult], float]) -> list[float]:
        return [f(m, p) for m, p in zip(runs[mode], runs["plain"])]

    def tok_s(r: RunResult) -> float:          # new tokens per second, all rows together
        return r.tokens * r.rows / r.seconds

    def steps_s(r: RunResult) -> float:        # tokens per second in each column
        return r.tokens / r.seconds

    plain_med = _median([r.seconds for r in runs["plain"]])
    rows_out: list[dict[str, Any]] = []
    base = {"model": plan.name}

    def timing(mode: str) -> dict[str, Any]:
        rs = runs[mode]
        return {"seconds_median": round(_median([r.seconds for r in rs]), 4),
                "plain_seconds_median": round(plain_med, 4),
                "tok_s": round(_median([tok_s(r) for r in rs]), 2),
                "steps_s": round(_median([steps_s(r) for r in rs]), 2),
                "plain_tok_s": round(_median([tok_s(r) for r in runs["plain"]]), 2),
                "rows": rs[0].rows}

    def spread(xs: list[float]) -> list[float]:
        return [round(min(xs), 3), round(max(xs), 3)]

    # (a) throughput relative to plain
    ra = paired("a", lambda m, p: tok_s(m) / tok_s(p))
    rows_out.append({"name": "a baseline-only", **base, "measure": "throughput / plain",
                     "ratio_to_plain": round(_median(ra), 3), "ratio_range": spread(ra),
                     **timing("a"), **_target_fields("a", _median(ra))})
    # (b) wall time relative to plain
    rb = paired("b", lambda m, p: m.seconds / p.seconds)
    rows_out.append({"name": "b baseline + 1 steered variant", **base,
                     "measure": "wall time / plain", "ratio_to_plain": round(_median(rb), 3),
                     "ratio_range": spread(rb), **timing("b"),
                     **_target_fields("b", _median(rb))})
    # (c) throughput (all 5 rows' tokens) relative to plain
    rc = paired("c", lambda m, p: tok_s(m) / tok_s(p))
    rc_wall = paired("c", lambda m, p: m.seconds / p.seconds)
    rows_out.append({"name": "c baseline + 4 steered variants (strength sweep)", **base,
                     "measure": "throughput / plain", "ratio_to_plain": round(_median(rc), 3),
                     "ratio_range": spread(rc), "wall_ratio_to_plain": round(_median(rc_wall), 3),
                     **timing("c")})
    # (d) throughput relative to plain, and to (b) (the target)
    rd = paired("d", lambda m, p: tok_s(m) / tok_s(p))
    rd_b = [tok_s(dr) / tok_s(br) for dr, br in zip(runs["d"], runs["b"])]
    rows_out.append({"name": "d (b) + live readout (watched + top-k, full SAE encode)", **base,
                     "measure": "throughput / plain; target on throughput / (b)",
                     "ratio_to_plain": round(_median(rd), 3), "ratio_range": spread(rd),
                     "ratio_to_b": round(_median(rd_b), 3), "ratio_to_b_range": spread(rd_b),
                     "watch": WATCH_EXTRA + 1, "top_k": TOP_K, **timing("d"),
                     **_target_fields("d", _median(rd_b))})
    rows_out += rr.rule_rows(plan.name, runs, _median, spread, timing)   # (h): rules' cost
    # (e) time to first token relative to plain
    plain_first = _median([r.first_token_seconds for r in runs["plain"]])
    for mode, label in (("b", "e time to first token, baseline + 1 variant (b)"),
                        ("a", "e time to first token, baseline-only (a)"),
                        *(cr.FIRST_TOKEN_ROWS if opts.compile else ())):
        re_ = paired(mode, lambda m, p: m.first_token_seconds / p.first_token_seconds)
        rows_out.append({"name": label, **base, "measure": "time to first token / plain",
                         "ratio_to_plain": round(_median(re_), 3), "ratio_range": spread(re_),
                         "first_token_seconds": round(_median(
                             [r.first_token_seconds for r in runs[mode]]), 4),
                         "plain_first_token_seconds": round(plain_first, 4),
                         **_target_fields("e", _median(re_))})
    # (f) peak memory: weights (+ SAE for steerdesk) + the run's peak working memory
    peaks = {m: [r.peak_extra_bytes for r in runs[m] if r.peak_extra_bytes is not None]
             for m in ("plain", "b", "c", "d")}
    if all(peaks.values()):
        work = {m: max(p) for m, p in peaks.items()}
        plain_total = w_bytes + work["plain"]
        mib = 2 ** 20
        for mode, label in (("b", "f peak memory, baseline + 1 variant (b)"),
                            ("c", "f peak memory, baseline + 4 variants (c)"),
                            ("d", "f peak memory, (b) + readout (d)")):
            total = w_bytes + sae_bytes + work[mode]
            rows_out.append({"name": label, **base, "measure": "peak memory / plain",
                             "ratio_to_plain": round(total / plain_total, 3),
                             "peak_mib": round(total / mib, 1),
                             "plain_peak_mib": round(plain_total / mib, 1),
                             "working_mib": round(work[mode] / mib, 1),
                             "plain_working_mib": round(work["plain"] / mib, 1),
                             "weights_mib": round(w_bytes / mib, 1),
                             "sae_mib": round(sae_bytes / mib, 1)})
    if opts.compile:
        rows_out += cr.compiled_rows(plan.name, runs, compile_info, cr.compile_counts(session),
                                     _median, spread, timing)
    # GPU: absolute decode speed next to the memory-bandwidth bound (weights read once a step)
    # A decoding step reads every weight once (the rows of a batch share the read); the live
    # readout also reads the SAE's encoder. KV-cache reads are left out: small at these lengths.
    bandwidth = opts.bandwidth_tbs or default_bandwidth_tbs(dev)
    if bandwidth:
        enc_bytes = session.sae.W_enc.numel() * session.sae.W_enc.element_size()
        plain_bound = bandwidth * 1e12 / w_bytes
        for row in rows_out:
            if "steps_s" in row:
                extra = enc_bytes if row["name"].startswith("d") else 0
                bound = bandwidth * 1e12 / (w_bytes + extra)
                row["bandwidth_bound_steps_s"] = round(bound, 1)
                row["fraction_of_bound"] = round(row["steps_s"] / bound, 3)
                row["plain_fraction_of_bound"] = round(row["plain_tok_s"] / plain_bound, 3)

    gc.unfreeze()
    del session
    gc.collect()
    return {"model": plan.name, "model_source": how, "prompt_tokens": prompt_len,
            "new_tokens": n, "repeats": plan.repeats, "weights_mib": round(w_bytes / 2 ** 20, 1),
            "sae_mib": round(sae_bytes / 2 ** 20, 1), "build_seconds": round(build_s, 1),
            "rows": rows_out,
            "runs": {m: [{"seconds": round(r.seconds, 4),
                          "first_token_seconds": round(r.first_token_seconds, 4),
                          "peak_extra_mib": (round(r.peak_extra_bytes / 2 ** 20, 1)
                                             if r.peak_extra_bytes is not None else None)}
                         for r in runs[m]] for m in modes}}


def run_bench(opts: BenchOptions) -> dict[str, Any]:
    from steerdesk.engine.device import resolve_device

    if opts.threads:
        torch.set_num_threads(opts.threads)
    dev = resolve_device(opts.device)
    started = time.time()
    machine = machine_info(dev)
    models = [bench_model(plan, opts) for plan in opts.plans]
    machine["load_average_at_end"] = _loadavg()
    rows = [row for m in models for row in m["rows"]]
    return {
        "machine": machine,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "command": "steerdesk " + " ".join(sys.argv[1:]) if sys.argv else None,
        "quick": opts.quick, "compile": opts.compile, "device": str(dev), "dtype": opts.dtype,
        "bandwidth_tbs": opts.bandwidth_tbs or default_bandwidth_tbs(dev),
        "seconds": round(time.time() - started, 1),
        "models": [{k: v for k, v in m.items() if k != "rows"} for m in models],
        "rows": rows,
    }
