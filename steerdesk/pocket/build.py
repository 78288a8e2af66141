"""Rebuild the pocket pack from scratch: `python -m steerdesk.pocket.build`.

Stages run in order; each reads the previous stage's output from the cache folder, so any
suffix of the pipeline can be rerun alone (`--stages model`). Stages: corpus (download and
parse Debian's fortune packages), tokenizer (train BPE and encode the corpus), model (train
the small Llama into steerdesk/resources/pocket/model), sae (train a TopK SAE on its layer-2
residual stream into resources/pocket/sae), catalog (the SAE's feature catalog over the
held-out split, with hand labels), presets (sweep the language features' strengths and write
resources/pocket/presets), report (write docs/pocket-pack.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import paths


@dataclass(frozen=True)
class BuildContext:
    cache: Path
    out_dir: Path
    run_name: str
    args: argparse.Namespace

    @property
    def corpus_dir(self) -> Path:
        return self.cache / "corpus"

    @property
    def tokenizer_dir(self) -> Path:
        return self.cache / "tokenizer"

    @property
    def tokens_dir(self) -> Path:
        return self.cache / "tokens"

    @property
    def work_dir(self) -> Path:
        return self.cache / "train" / self.run_name

    @property
    def pack_dir(self) -> Path:
        """The folder holding model/, sae/ and presets/ (the model folder's parent)."""
        return self.out_dir.parent


def stage_corpus(ctx: BuildContext) -> None:
    from .corpus import build_corpus

    stats = build_corpus(ctx.corpus_dir, ctx.cache / "debs", ctx.cache / "unpacked")
    print(json.dumps(stats, indent=2))


def stage_tokenizer(ctx: BuildContext) -> None:
    from .corpus import read_jsonl
    from .token_streams import encode_by_language, save_streams
    from .tokenizer import balanced_texts, save_hf_tokenizer, train_bpe

    train_docs = read_jsonl(ctx.corpus_dir / "train.jsonl")
    val_docs = read_jsonl(ctx.corpus_dir / "val.jsonl")
    tokenizer = train_bpe(balanced_texts(train_docs), vocab_size=ctx.args.vocab_size)
    save_hf_tokenizer(tokenizer, ctx.tokenizer_dir, model_max_length=ctx.args.context)
    ctx.tokens_dir.mkdir(parents=True, exist_ok=True)
    for name, docs in (("train", train_docs), ("val", val_docs)):
        streams = encode_by_language(docs, tokenizer)
        save_streams(streams, ctx.tokens_dir / f"{name}.npz")
        print(f"{name} tokens: " + ", ".join(f"{k}={len(v):,}" for k, v in streams.items()))


def stage_model(ctx: BuildContext) -> None:
    from .model_shape import ModelShape
    from .samples import samples_for_metrics
    from .token_streams import load_streams
    from .tokenizer import EOT, load_tokenizer
    from .train_model import TrainSettings, train

    tokenizer = load_tokenizer(ctx.tokenizer_dir)
    shape = ModelShape(vocab_size=tokenizer.get_vocab_size(), context_length=ctx.args.context)
    settings = TrainSettings(
        budget_minutes=ctx.args.minutes,
        max_steps=ctx.args.max_steps,
        batch_size=ctx.args.batch_size,
        threads=ctx.args.threads,
    )
    # A build that (re)made the data starts training over; `--stages model` alone resumes.
    remade_data = {"corpus", "tokenizer"} & set(ctx.args.stages.split(","))
    if ctx.args.fresh or remade_data:
        shutil.rmtree(ctx.work_dir, ignore_errors=True)
    train(
        load_streams(ctx.tokens_dir / "train.npz"),
        load_streams(ctx.tokens_dir / "val.npz"),
        tokenizer_dir=ctx.tokenizer_dir,
        work_dir=ctx.work_dir,
        out_dir=ctx.out_dir,
        shape=shape,
        settings=settings,
        eot_id=tokenizer.token_to_id(EOT),
        log=lambda line: print(line, flush=True),
        after_training=samples_for_metrics(ctx.tokenizer_dir),
    )


def stage_sae(ctx: BuildContext) -> None:
    from .train_sae import SaeBuildSettings, build_sae

    settings = SaeBuildSettings(minutes=ctx.args.sae_minutes, train_tokens=ctx.args.sae_tokens,
                                max_steps=ctx.args.sae_max_steps)
    build_sae(ctx.out_dir, ctx.tokens_dir, ctx.pack_dir / "sae", settings,
              log=lambda line: print(line, flush=True))


def stage_catalog(ctx: BuildContext) -> None:
    from .pack_features import build_pack_catalog

    build_pack_catalog(ctx.out_dir, ctx.pack_dir / "sae", ctx.corpus_dir, ctx.tokens_dir,
                       log=lambda line: print(line, flush=True))


def stage_presets(ctx: BuildContext) -> None:
    from .pack_features import build_presets

    build_presets(ctx.out_dir, ctx.pack_dir / "sae", ctx.tokens_dir, ctx.pack_dir / "presets",
                  log=lambda line: print(line, flush=True))


def stage_report(ctx: BuildContext) -> None:
    from .report import write_report

    path = write_report(ctx.pack_dir, log=lambda line: print(line, flush=True), model_dir=ctx.out_dir)
    print(f"wrote {path}")


# Each stage reads the stages before it.
STAGES: dict[str, Callable[[BuildContext], None]] = {
    "corpus": stage_corpus,
    "tokenizer": stage_tokenizer,
    "model": stage_model,
    "sae": stage_sae,
    "catalog": stage_catalog,
    "presets": stage_presets,
    "report": stage_report,
}


def record_stage_time(ctx: BuildContext, name: str, minutes: float) -> None:
    """Keep the last measured time of each stage (for the README and docs/pocket-pack.md), in
    the cache and, for the pack's own stages, beside the SAE."""
    for path in (ctx.cache / "stage_times.json", ctx.pack_dir / "sae" / "build_times.json"):
        if path.parent.name == "sae" and (name in ("corpus", "tokenizer", "model")
                                          or not path.parent.is_dir()):
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            times = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            times = {}
        times[name] = round(minutes, 2)
        path.write_text(json.dumps(times, indent=1) + "\n", encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m steerdesk.pocket.build", description=__doc__.split("\n")[0])
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}")
    parser.add_argument("--minutes", type=float, default=45.0, help="model training time budget (default 45)")
    parser.add_argument("--max-steps", type=int, default=None, help="also stop after this many steps")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for training (default 1)")
    parser.add_argument("--batch-size", type=int, default=8, help="windows per step (default 8)")
    parser.add_argument("--context", type=int, default=256, help="training window in tokens")
    parser.add_argument("--vocab-size", type=int, default=8192)
    parser.add_argument("--sae-minutes", type=float, default=11.0, help="SAE training budget (default 11)")
    parser.add_argument("--sae-tokens", type=int, default=600_000,
                        help="training activations collected for the SAE (default 600000)")
    parser.add_argument("--sae-max-steps", type=int, default=None, help="also stop the SAE after this many steps")
    parser.add_argument("--cache-dir", type=Path, default=None, help=f"default {paths.cache_dir()}")
    parser.add_argument("--out", type=Path, default=None, help=f"model folder, default {paths.model_dir()}")
    parser.add_argument("--run-name", default="main", help="training checkpoint folder name (resumes if present)")
    parser.add_argument("--fresh", action="store_true", help="discard this run's checkpoint and start over "
                        "(implied when corpus or tokenizer run too)")
    args = parser.parse_args(argv)
    unknown = [s for s in args.stages.split(",") if s not in STAGES]
    if unknown:
        parser.error(f"unknown stage(s) {unknown}; choose from {list(STAGES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ctx = BuildContext(
        cache=args.cache_dir or paths.cache_dir(),
        out_dir=args.out or paths.model_dir(),
        run_name=args.run_name,
        args=args,
    )
    selected = args.stages.split(",")
    for name, stage in STAGES.items():
        if name in selected:
            start = time.monotonic()
            print(f"== stage {name}", flush=True)
            stage(ctx)
            minutes = (time.monotonic() - start) / 60
            print(f"== stage {name} done in {minutes:.1f} min", flush=True)
            record_stage_time(ctx, name, minutes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
