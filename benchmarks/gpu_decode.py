"""Decode speed on a GPU: plain Hugging Face generate vs steerdesk eager vs steerdesk compiled,
at 1, 2 and 5 rows, for gemma-2-2b and Llama-3.2-1B shapes with random bf16 weights and 16k
SAEs. One command, under 8 minutes on an H100/H200:

    python benchmarks/gpu_decode.py                      # cuda, bf16; writes gpu_decode.json/.md
    python benchmarks/gpu_decode.py --out $OUT           # where the two files go
    python benchmarks/gpu_decode.py --tiny --device cpu  # the same run on tiny shapes (a smoke test)

Models are built from a config (no download): matrices N(0, 0.02), norms 1, biases 0, made on
the device in the benchmark dtype. SAEs: gemma-2-2b JumpReLU 2304 x 16384 at
blocks.12.hook_resid_post (a Gemma Scope 16k shape); Llama-3.2-1B TopK 2048 x 16384, k=64, at
blocks.8.hook_resid_post. Rows: row 0 is the baseline, rows 1.. add feature 7 at strengths 2,
4, 8, 16 (the bench's sweep); plain generate runs the same prompt as a batch of that many rows.

Per method and row count: the median over --repeats runs of the wall time (prompt string to the
last token), the first token's latency, and the decode rate per stream, (N - 1) new tokens over
the time after the first token. The share of the bandwidth bound is that rate over
bandwidth / bytes of weights (a decoding step reads every weight once; the rows share the read;
KV-cache reads are left out: small at these lengths). The compiled path runs with a fixed row
capacity of 5 (settings.rows): one graph serves 1, 2 and 5 rows, compiled once per model (its
time is reported) before the timed runs.

The issue's targets (H100/H200): eager side by side (2 rows) >= 60 tok/s per stream on
gemma-2-2b; compiled >= 50% of the bandwidth bound; side by side <= 1.1x the 1-row wall time.
A time budget (--budget, seconds) skips what would not fit and says so in the results.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402 - after the path to this checkout

GPU_BANDWIDTH_TBS = (("H200", 4.8), ("H100 PCIe", 2.0), ("H100 NVL", 3.9), ("H100", 3.35),
                     ("A100-SXM4-80GB", 2.04), ("A100", 1.56))
FEATURE, SWEEP = 7, (2.0, 4.0, 8.0, 16.0)
TARGETS = {"eager_2_rows_tok_s_gemma": 60.0, "compiled_share_of_bound": 0.5,
           "two_rows_over_one_wall": 1.1}


def configs(tiny: bool) -> dict[str, tuple[Any, dict[str, Any]]]:
    """name -> (transformers config, SAE spec)."""
    import transformers as tf

    gemma = dict(vocab_size=256000, hidden_size=2304, intermediate_size=9216,
                 num_hidden_layers=26, num_attention_heads=8, num_key_value_heads=4, head_dim=256,
                 max_position_embeddings=8192, sliding_window=4096, query_pre_attn_scalar=256,
                 attn_logit_softcapping=50.0, final_logit_softcapping=30.0, rms_norm_eps=1e-6,
                 hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True)
    llama = dict(vocab_size=128256, hidden_size=2048, num_hidden_layers=16,
                 num_attention_heads=32, num_key_value_heads=8, intermediate_size=8192,
                 max_position_embeddings=4096, tie_word_embeddings=True, rms_norm_eps=1e-5)
    g_sae = dict(arch="jumprelu", width=16384, k=None, hook="blocks.12.hook_resid_post")
    l_sae = dict(arch="topk", width=16384, k=64, hook="blocks.8.hook_resid_post")
    if tiny:
        small = dict(vocab_size=512, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2)
        gemma.update(small, head_dim=8, query_pre_attn_scalar=8, sliding_window=64)
        llama.update(small)
        g_sae.update(width=64, hook="blocks.1.hook_resid_post")
        l_sae.update(width=64, k=8, hook="blocks.1.hook_resid_post")
    return {"gemma-2-2b": (tf.Gemma2Config(**gemma), g_sae),
            "llama-3.2-1b": (tf.LlamaConfig(**llama), l_sae)}


def build_session(cfg, sae_spec: dict[str, Any], device: torch.device, dtype: torch.dtype):
    from transformers import AutoModelForCausalLM
    from transformers.initialization import no_init_weights

    from steerdesk.bench.models import ModelSpec, fast_random_init_, make_tokenizer, random_sae
    from steerdesk.engine.models import LoadedModel
    from steerdesk.engine.session import attach_sae

    tok = make_tokenizer(cfg.vocab_size)
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        setattr(cfg, key, tok.eos_token_id)
    with torch.device(device), no_init_weights():
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    model.tie_weights()
    fast_random_init_(model)
    model.eval().requires_grad_(False)
    gen = model.generation_config
    gen.bos_token_id = gen.eos_token_id = gen.pad_token_id = tok.eos_token_id
    lm = LoadedModel(model=model, tokenizer=tok, name=f"random {cfg.model_type}",
                     path=Path("<memory>"), device=device, dtype=dtype)
    spec = ModelSpec(cfg.model_type, cfg.model_type, sae_spec["width"], sae_spec["arch"],
                     sae_spec["k"], sae_spec["hook"])
    return attach_sae(lm, random_sae(spec, cfg.hidden_size), hook=sae_spec["hook"])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_plain(session, prompt: str, rows: int, n: int) -> tuple[float, float]:
    from steerdesk.bench.harness import _FirstTokenStreamer

    model, tok, dev = session.model, session.tokenizer, session.lm.device
    _sync(dev)
    t0 = time.perf_counter()
    ids = torch.tensor([tok(prompt)["input_ids"]], device=dev).expand(rows, -1)
    streamer = _FirstTokenStreamer(t0)
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                             max_new_tokens=n, min_new_tokens=n, pad_token_id=tok.eos_token_id,
                             streamer=streamer)
    _sync(dev)
    seconds = time.perf_counter() - t0
    if out.shape[1] - ids.shape[1] != n:
        raise RuntimeError(f"plain generate made {out.shape[1] - ids.shape[1]} tokens, not {n}")
    return seconds, streamer.first or seconds


def request_for(prompt: str, rows: int, n: int, compile_: bool):
    from steerdesk.engine.generation import GenerationRequest
    from steerdesk.engine.steering import FeatureSteer, SteeringSpec

    variants = [SteeringSpec([FeatureSteer(FEATURE, s)]) for s in SWEEP[:rows - 1]]
    return GenerationRequest(prompt, variants, max_new_tokens=n, stop_at_eos=False,
                             compile=compile_)


def run_steerdesk(session, prompt: str, rows: int, n: int, compile_: bool) -> tuple[float, float]:
    from steerdesk.engine.generation import DoneEvent, StepEvent, stream

    dev = session.lm.device
    _sync(dev)
    t0 = time.perf_counter()
    first, done = None, None
    for event in stream(session, request_for(prompt, rows, n, compile_)):
        if first is None and isinstance(event, StepEvent):
            _sync(dev)
            first = time.perf_counter() - t0
        elif isinstance(event, DoneEvent):
            done = event
    _sync(dev)
    seconds = time.perf_counter() - t0
    want = "compiled" if compile_ else "eager"
    if done is None or done.steps != n or done.decode != want:
        raise RuntimeError(f"steerdesk ({want}) ended with {done}")
    return seconds, first if first is not None else seconds


def run_once(session, method: str, prompt: str, rows: int, n: int) -> tuple[float, float]:
    if method == "plain":
        return run_plain(session, prompt, rows, n)
    return run_steerdesk(session, prompt, rows, n, method == "compiled")


def bandwidth_tbs(device: torch.device, given: float | None) -> float | None:
    if given or device.type != "cuda":
        return given
    name = torch.cuda.get_device_name(device)
    return next((tbs for key, tbs in GPU_BANDWIDTH_TBS if key in name), None)


def bench_model(name: str, cfg, sae_spec, args, device, dtype, deadline: float) -> dict[str, Any]:
    from steerdesk.bench.harness import make_prompt
    from steerdesk.bench.models import weight_bytes
    from steerdesk.engine import compiled

    t = time.perf_counter()
    session = build_session(cfg, sae_spec, device, dtype)
    out: dict[str, Any] = {"model": name, "build_seconds": round(time.perf_counter() - t, 1),
                           "weights_gib": round(weight_bytes(session.model) / 2 ** 30, 3),
                           "sae": f"{sae_spec['arch']} {cfg.hidden_size} x {sae_spec['width']} "
                                  f"at {sae_spec['hook']}", "runs": []}
    prompt, prompt_len = make_prompt(session.tokenizer, args.prompt_tokens)
    out["prompt_tokens"] = prompt_len
    log = print if not args.quiet else (lambda *a, **k: None)
    log(f"{name}: built in {out['build_seconds']} s, {out['weights_gib']} GiB", flush=True)
    if "compiled" in args.methods:
        t = time.perf_counter()
        report = compiled.prepare(session, request_for(prompt, max(args.rows), args.new_tokens,
                                                       True),
                                  progress=lambda f, m: log(f"  {m}", flush=True))
        out["compile"] = {"seconds": round(time.perf_counter() - t, 1), "compiled": report.compiled,
                          "reason": report.reason,
                          "shape": report.shape.describe() if report.shape else None}
    bound = None
    tbs = bandwidth_tbs(device, args.bandwidth)
    if tbs:
        bound = tbs * 1e12 / weight_bytes(session.model)
        out["bandwidth_tbs"], out["bound_tok_s"] = tbs, round(bound, 1)
    for rows in args.rows:
        for method in args.methods:
            if method == "compiled" and not out.get("compile", {}).get("compiled"):
                continue
            if time.perf_counter() > deadline:
                out["runs"].append({"method": method, "rows": rows, "skipped": "time budget"})
                continue
            # warm-up first: allocator, kernels, CUDA graph recording
            run_once(session, method, prompt, rows, min(4, args.new_tokens))
            timed = [run_once(session, method, prompt, rows, args.new_tokens)
                     for _ in range(args.repeats)]
            wall = statistics.median(s for s, _ in timed)
            first = statistics.median(f for _, f in timed)
            rate = statistics.median((args.new_tokens - 1) / max(s - f, 1e-9) for s, f in timed)
            run = {"method": method, "rows": rows, "wall_seconds": round(wall, 4),
                   "first_token_seconds": round(first, 4), "decode_tok_s_per_stream": round(rate, 1),
                   "tok_s_all_rows": round(rows * args.new_tokens / wall, 1)}
            if bound:
                run["share_of_bound"] = round(rate / bound, 3)
            out["runs"].append(run)
            log(f"  {method:8s} {rows} rows: {rate:7.1f} tok/s per stream, wall {wall:.2f} s, "
                f"first token {first * 1000:.0f} ms", flush=True)
    del session
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return out


def targets(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def run(m, method, rows):
        return next((r for r in m["runs"] if r["method"] == method and r["rows"] == rows
                     and "skipped" not in r), None)

    out = []
    for m in models:
        two = run(m, "eager", 2)
        if m["model"] == "gemma-2-2b" and two:
            v = two["decode_tok_s_per_stream"]
            out.append({"model": m["model"], "target": "eager 2 rows >= 60 tok/s per stream",
                        "value": v, "met": v >= TARGETS["eager_2_rows_tok_s_gemma"]})
        for rows in (1, 2, 5):
            c = run(m, "compiled", rows)
            if c and "share_of_bound" in c:
                out.append({"model": m["model"], "target": f"compiled {rows} rows >= 50% of bound",
                            "value": c["share_of_bound"],
                            "met": c["share_of_bound"] >= TARGETS["compiled_share_of_bound"]})
        for method in ("eager", "compiled"):
            one, two = run(m, method, 1), run(m, method, 2)
            if one and two:
                v = round(two["wall_seconds"] / one["wall_seconds"], 3)
                out.append({"model": m["model"], "target": f"{method}: 2 rows <= 1.1x 1-row wall",
                            "value": v, "met": v <= TARGETS["two_rows_over_one_wall"]})
    return out


def to_markdown(result: dict[str, Any]) -> str:
    lines = [f"Date: {result['date']}; device: {result['device_name']} ({result['dtype']}); "
             f"torch {result['torch']}, transformers {result['transformers']}; "
             f"{result['new_tokens']} new tokens, {result['repeats']} repetitions; "
             f"took {result['seconds']:.0f} s.", ""]
    for m in result["models"]:
        comp = m.get("compile") or {}
        lines.append(f"- **{m['model']}**: {m['weights_gib']} GiB of weights, SAE {m['sae']}, "
                     f"prompt {m['prompt_tokens']} tokens"
                     + (f", bound {m['bound_tok_s']} tok/s at {m['bandwidth_tbs']} TB/s"
                        if m.get("bound_tok_s") else "")
                     + (f"; compiled ({comp['shape']}) in {comp['seconds']} s" if comp.get("compiled")
                        else f"; not compiled: {comp.get('reason')}" if comp else "") + ".")
    lines += ["", ("| model | method | rows | tok/s per stream | share of bound | first token "
                   "| wall |"), "|---|---|---|---|---|---|---|"]
    for m in result["models"]:
        for r in m["runs"]:
            if "skipped" in r:
                lines.append(f"| {m['model']} | {r['method']} | {r['rows']} | skipped "
                             f"({r['skipped']}) | | | |")
                continue
            share = f"{r['share_of_bound']:.0%}" if "share_of_bound" in r else "-"
            lines.append(f"| {m['model']} | {r['method']} | {r['rows']} | "
                         f"{r['decode_tok_s_per_stream']:.1f} | {share} | "
                         f"{r['first_token_seconds'] * 1000:.0f} ms | {r['wall_seconds']:.2f} s |")
    if result["targets"]:
        lines += ["", "| model | target | value | met |", "|---|---|---|---|"]
        lines += [f"| {t['model']} | {t['target']} | {t['value']} | "
                  f"{'met' if t['met'] else '**missed**'} |" for t in result["targets"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default=None, help="default: bfloat16 on a GPU, float32 on a CPU")
    p.add_argument("--tiny", action="store_true", help="tiny shapes (a smoke test, e.g. on a CPU)")
    p.add_argument("--models", default="gemma-2-2b,llama-3.2-1b")
    p.add_argument("--rows", default="1,2,5", help="row counts, at most 5")
    p.add_argument("--methods", default="plain,eager,compiled")
    p.add_argument("--prompt-tokens", type=int, default=64)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--budget", type=float, default=420.0,
                   help="seconds; what would start later is skipped (default 420)")
    p.add_argument("--bandwidth", type=float, help="TB/s (default: known for H100, H200, A100)")
    p.add_argument("--backend", default="inductor", help="torch.compile backend (tests: eager)")
    p.add_argument("--out", default=".", help="folder for gpu_decode.json and gpu_decode.md")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    args.rows = [int(r) for r in args.rows.split(",")]
    args.methods = [m.strip() for m in args.methods.split(",")]
    if max(args.rows) > 5 or min(args.rows) < 1:
        p.error("--rows: between 1 and 5")
    if set(args.methods) - {"plain", "eager", "compiled"}:
        p.error("--methods: plain, eager, compiled")

    import transformers

    from steerdesk.engine import compiled

    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype) if args.dtype else (
        torch.float32 if device.type == "cpu" else torch.bfloat16)
    compiled.settings.backend = args.backend
    compiled.settings.rows = 5     # one graph for 1, 2 and 5 rows
    started = time.perf_counter()
    deadline = started + args.budget
    cfgs = configs(args.tiny)
    models = []
    for name in [m.strip() for m in args.models.split(",")]:
        if name not in cfgs:
            p.error(f"--models: unknown {name!r}; choose from {', '.join(cfgs)}")
        cfg, sae_spec = cfgs[name]
        models.append(bench_model(name, cfg, sae_spec, args, device, dtype, deadline))
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "device": str(device), "dtype": str(dtype).replace("torch.", ""),
              "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda"
                              else "CPU"), "tiny": args.tiny,
              "torch": torch.__version__, "transformers": transformers.__version__,
              "new_tokens": args.new_tokens, "repeats": args.repeats,
              "seconds": round(time.perf_counter() - started, 1), "models": models}
    result["targets"] = targets(models)
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gpu_decode.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    md = to_markdown(result)
    (folder / "gpu_decode.md").write_text(md, encoding="utf-8")
    if not args.quiet:
        print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
