"""Catalog benchmarks: words search over 131,072 labels, and the cost of building a catalog
relative to the model's forward passes over the same tokens.

    python3 benchmarks/bench_catalog.py [--threads 1] [--tokens 65536] [--reps 3] [--json OUT]

Search: 131,072 synthetic labels (automatic-label and Neuronpedia-style phrases over a
5,000-word vocabulary); the time of the first query (which builds the index) is reported
apart from the per-query latency (median and max over a fixed query mix: exact labels,
substrings, multi-word queries, typos, no-match).

Build: for a tiny model (Llama d=32, 2 layers, vocab 300, ReLU SAE 64) and the pocket-sized
config (Llama hidden 256, 4 layers, 8 heads, MLP 768, vocab 8192, TopK SAE 2048 k=24 at
blocks.2.hook_resid_post, and at blocks.3 as the worst case: the forward stops at the hook),
random weights. Forward = the full model(input_ids) over the same batches of the same
chunks (tokenised beforehand, so it excludes tokenisation); forward-to-hook = the same, stopped
at the SAE's hook as the builder does (so build / forward-to-hook is the cost of everything
besides the model); build = build_catalog() wall time
from the corpus (tokenising, encoding, top-k bookkeeping, promoted tokens, writing, labels).
Repetitions alternate forward and build; ratios are medians over repetitions.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def synthetic_labels(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    syllables = ["an", "ber", "co", "da", "el", "fi", "gor", "hu", "in", "jo", "ka", "lum",
                 "mo", "nor", "pe", "qua", "ri", "sto", "tu", "vel", "wa", "xi", "yo", "zen"]
    words = sorted({"".join(rng.choice(syllables) for _ in range(rng.randint(1, 4)))
                    for _ in range(7000)})[:5000]
    english = ["text", "about", "the", "of", "and", "references", "to", "phrases", "words",
               "ending", "in", "code", "German", "French", "numbers", "names", "after",
               "mentions", "of", "punctuation", "legal", "terms", "medical", "sports"]
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.4:
            out.append(f"'{rng.choice(words)}' / '{rng.choice(words)}' (\u2192 '{rng.choice(words)}')")
        elif r < 0.8:
            k = rng.randint(2, 7)
            out.append(" ".join(rng.choice(english if rng.random() < 0.5 else words)
                                for _ in range(k)))
        elif r < 0.95:
            out.append(f"German text: '{rng.choice(words)}', '{rng.choice(words)}'")
        else:
            out.append("")
    return out


def bench_search(reps: int) -> dict:
    from steerdesk.engine.catalog.word_search import WordIndex

    labels = synthetic_labels(131_072)
    t = time.perf_counter()
    idx = WordIndex(labels)
    construct = time.perf_counter() - t
    some = [lbl for lbl in labels if lbl][:50]
    queries = ([some[3], some[17].upper()] + ["german text", "references to", "ending in",
               "kalum", "legal terms", "medcal", "refrences", "sports names", "zzzzqqq",
               "text german", "code", "the"])
    t = time.perf_counter()
    idx.search("warm up")          # builds the trigram and word indexes
    first = time.perf_counter() - t
    times = {q: [] for q in queries}
    for _ in range(reps):
        for q in queries:
            t = time.perf_counter()
            idx.search(q, 50)
            times[q].append(time.perf_counter() - t)
    per_query = {q: 1000 * statistics.median(v) for q, v in times.items()}
    allv = [1000 * x for v in times.values() for x in v]
    return {"labels": len(labels), "construct_ms": 1000 * construct,
            "first_query_builds_index_ms": 1000 * first,
            "query_ms_median": statistics.median(allv), "query_ms_max": max(allv),
            "per_query_ms": per_query}


def corpus_texts(n_chars: int) -> list[str]:
    import os

    src = Path(os.__file__).parent
    texts, total = [], 0
    for p in sorted(src.glob("*.py")):
        t = p.read_text(encoding="utf-8", errors="replace")
        texts.append(t)
        total += len(t)
        if total >= n_chars:
            break
    return texts


def make_pocket(folder: Path, hook_layer: int):
    from steerdesk.engine.sae.base import SAE, SAEConfig
    from steerdesk.engine.sae.fmt_saelens import save_saelens
    from steerdesk.pocket.model_shape import ModelShape, build_model
    from steerdesk.testing.tiny import make_sae_tensors, make_tokenizer

    model_dir = folder / "model"
    if not (model_dir / "config.json").is_file():
        model_dir.mkdir(parents=True, exist_ok=True)
        tok = make_tokenizer(model_dir)
        model = build_model(ModelShape(), eot_id=tok.bos_token_id)
        model.save_pretrained(model_dir)
    sae_dir = folder / f"sae{hook_layer}"
    cfg = SAEConfig(architecture="topk", d_in=256, d_sae=2048, k=24,
                    hook_name=f"blocks.{hook_layer}.hook_resid_post")
    save_saelens(SAE(cfg, make_sae_tensors(256, 2048, "topk", seed=2)), sae_dir)
    return model_dir, sae_dir


def make_tiny(folder: Path):
    from steerdesk.testing.tiny import make_model, make_sae

    return (make_model(folder / "model", "llama", d=32, layers=2),
            make_sae(folder / "sae", d_in=32, d_sae=64, arch="relu",
                     hook="blocks.1.hook_resid_post"))


def forward_time(session, texts, tokens, context, batch_size, to_hook: bool = False
                 ) -> tuple[float, int]:
    from steerdesk.engine.catalog.build import chunks as corpus_chunks
    from steerdesk.engine.catalog.corpus import Corpus
    from steerdesk.engine.hooks import capture_at
    from steerdesk.engine.reading import pad_batch, pad_id_of, special_ids

    tok = session.tokenizer
    chunks = [c[0] for c in corpus_chunks(Corpus(texts), tok, context, tokens, special_ids(tok))]
    batches = [pad_batch(chunks[s: s + batch_size], pad_id_of(tok), session.lm.device)
               for s in range(0, len(chunks), batch_size)]

    t = time.perf_counter()
    with torch.inference_mode():
        for ids, mask in batches:
            if to_hook:
                capture_at(session.model, session.hook, ids, mask)
            else:
                session.model(input_ids=ids, attention_mask=mask, use_cache=False)
    return time.perf_counter() - t, sum(len(c) for c in chunks)


def bench_build(name, model_dir, sae_dir, texts, tokens, reps, context=128, batch_size=8) -> dict:
    from steerdesk.engine.catalog import build_catalog
    from steerdesk.engine.session import open_session

    session = open_session(model_dir, sae_dir, device="cpu", dtype="float32")
    fwd, hook_fwd, build, loop = [], [], [], []
    n_tokens = 0
    for r in range(reps + 1):          # repetition 0 warms up
        f, n_tokens = forward_time(session, texts, tokens, context, batch_size)
        h, _ = forward_time(session, texts, tokens, context, batch_size, to_hook=True)
        with tempfile.TemporaryDirectory() as out:
            marks = {}

            def progress(frac, msg, marks=marks):
                if msg.startswith("Writing") and "loop_end" not in marks:
                    marks["loop_end"] = time.perf_counter()

            t = time.perf_counter()
            build_catalog(session, texts, out, tokens=tokens, context=context,
                          batch_size=batch_size, progress=progress)
            b = time.perf_counter() - t
        if r:
            fwd.append(f)
            hook_fwd.append(h)
            build.append(b)
            loop.append(marks["loop_end"] - t)
    ratio = statistics.median(b / f for b, f in zip(build, fwd))
    ratio_loop = statistics.median(x / f for x, f in zip(loop, fwd))
    ratio_hook = statistics.median(b / h for b, h in zip(build, hook_fwd))
    return {"config": name, "tokens_fed": n_tokens, "forward_s": statistics.median(fwd),
            "forward_to_hook_s": statistics.median(hook_fwd),
            "ratio_build_to_forward_to_hook": ratio_hook,
            "build_s": statistics.median(build), "build_loop_s": statistics.median(loop),
            "ratio_build_to_forward": ratio, "ratio_loop_to_forward": ratio_loop,
            "hook": session.hook.name, "d_sae": session.sae.d_sae}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tokens", type=int, default=65536)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results = {"threads": args.threads, "torch": torch.__version__,
               "search": bench_search(max(3, args.reps))}
    print(json.dumps(results["search"], indent=1), flush=True)
    if not args.skip_build:
        texts = corpus_texts(2_000_000)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            builds = []
            m, s = make_tiny(tmp / "tiny")
            builds.append(bench_build("tiny (llama d=32 x2, ReLU SAE 64)", m, s, texts,
                                      args.tokens, args.reps))
            print(json.dumps(builds[-1], indent=1), flush=True)
            for layer in (2, 3):
                m, s = make_pocket(tmp / "pocket", layer)
                builds.append(bench_build(f"pocket (llama 256 x4, vocab 8k, TopK 2048 k=24) "
                                          f"at blocks.{layer}", m, s, texts, args.tokens, args.reps))
                print(json.dumps(builds[-1], indent=1), flush=True)
            results["build"] = builds
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
