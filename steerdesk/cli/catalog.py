"""`steerdesk catalog ...`: build a feature catalog from your own text, import labels.

    catalog build [--model M --sae S] --corpus FILE_OR_FOLDER [--tokens N]
    catalog import --sae S FILE [--source imported|hand] [--layer L]
    catalog info [--sae S]

Ctrl-C during a build saves its state; the same command resumes it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from steerdesk.cli.common import (
    add_json_args,
    add_session_args,
    envelope,
    open_session_from_args,
    print_json,
    wants_json,
)
from steerdesk.cli.parsing import add_deprecated, whole
from steerdesk.engine.errors import Cancelled, InputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "catalog", help="build a feature catalog, import labels",
        description="A catalog holds each feature's label, max activation, density, top "
                    "snippets, histogram and promoted tokens, in a folder beside the SAE.")
    sub = p.add_subparsers(title="catalog subcommands", dest="catalog_command", metavar="ACTION")
    p.set_defaults(func=run, _parser=p)

    b = sub.add_parser("build", help="build the catalog from your own text",
                       description="Stream a corpus (.txt, .jsonl, or a folder of them) through "
                                   "the model and SAE, keeping each feature's top snippets. "
                                   "Interrupt with Ctrl-C and run the same command to resume.")
    add_session_args(b)
    b.add_argument("--corpus", required=True, metavar="FILE_OR_FOLDER",
                   help=".txt (paragraphs), .jsonl (one {\"text\": ...} per line) or a folder "
                        "(required)")
    b.add_argument("--tokens", type=whole(1), metavar="N", help="stop after N tokens (default: all)")
    b.add_argument("--out", metavar="DIR",
                   help="where to write the catalog (default: beside the SAE)")
    b.add_argument("--context", type=whole(2, 1 << 20), default=128, metavar="T",
                   help="tokens per sequence")
    b.add_argument("--batch-size", type=whole(1, 1 << 16), default=8, metavar="B",
                   help="sequences per forward pass")
    limit = b.add_argument("--limit", type=whole(1, 10_000), default=10, metavar="N",
                           help="snippets kept per feature")
    add_deprecated(b, "--top-k", limit)
    b.add_argument("--logit-tokens", type=whole(0, 10_000), default=10, metavar="N",
                   help="promoted/suppressed output tokens kept per feature (default: 10; 0 "
                        "skips them, which saves d_sae x vocab x d_model work on a CPU)")
    b.add_argument("--restart", action="store_true",
                   help="discard an unfinished build saved in the output folder")
    add_json_args(b, "print one JSON object when done")

    i = sub.add_parser("import", help="import feature labels (Neuronpedia JSON/JSONL, or CSV)",
                       description="Import a Neuronpedia explanation export (JSON, JSONL, .gz) "
                                   "or a CSV of index,label. Labels you typed yourself are kept.")
    i.add_argument("--sae", required=True, metavar="S",
                   help="the SAE the labels belong to (required)")
    i.add_argument("file", help="the label file, or a folder of them (Neuronpedia's "
                   "explanations/batch-N.jsonl.gz)")
    i.add_argument("--source", choices=("imported", "hand"), default="imported",
                   help="record them as imported (default) or hand-written labels")
    i.add_argument("--layer", metavar="ID",
                   help="when the file covers several SAEs: the layer/SAE id to take "
                        "(e.g. 6-res-jb; default: the only one)")
    i.add_argument("--replace", action="store_true",
                   help="drop the earlier labels of this source first")
    i.add_argument("--allow-pickle", action="store_true",
                   help="yes, read a .pt/.pth SAE to learn its size")
    add_json_args(i)

    n = sub.add_parser("info", help="what the catalog beside an SAE holds")
    n.add_argument("--sae", metavar="S", help="an SAE or catalog folder (default: the pocket pack)")
    add_json_args(n)


def run(args: argparse.Namespace) -> int:
    cmd = getattr(args, "catalog_command", None)
    if cmd is None:
        args._parser.print_help()
        return 2
    return {"build": _build, "import": _import, "info": _info}[cmd](args)


class ProgressBar:
    """A one-line bar with an ETA on stderr, where someone watches it."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self.last = 0.0

    def __call__(self, fraction: float, message: str) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.last < 0.2 and fraction < 1.0:
            return
        self.last = now
        width = 28
        filled = round(width * max(0.0, min(1.0, fraction)))
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction:4.0%} {message[:70]:<70}",
              end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled:
            print(file=sys.stderr)


def _build(args) -> int:
    from steerdesk.engine.catalog import build_catalog
    from steerdesk.engine.catalog.corpus import Corpus

    Corpus(args.corpus)                     # a missing or wrong corpus fails before the model loads
    session = open_session_from_args(args, quiet=wants_json(args))
    stop = threading.Event()
    previous = None

    def on_sigint(signum, frame):
        stop.set()
        signal.signal(signal.SIGINT, previous or signal.default_int_handler)

    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, on_sigint)
    bar = ProgressBar(sys.stderr.isatty() and not wants_json(args))
    t0 = time.perf_counter()
    try:
        cat = build_catalog(session, args.corpus, args.out, tokens=args.tokens,
                            context=args.context, batch_size=args.batch_size, top_k=args.limit,
                            logit_tokens=args.logit_tokens, progress=bar, cancelled=stop,
                            restart=args.restart)
    except Cancelled as exc:
        bar.close()
        print(f"steerdesk: {exc}", file=sys.stderr)
        return 130
    finally:
        if previous is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, previous)
    bar.close()
    mx = cat.max_activations()
    alive = int((mx > 0).sum()) if mx is not None else 0
    info = {"tokens": cat.manifest.get("tokens"), "d_sae": cat.d_sae, "features_active": alive}
    if wants_json(args):
        from steerdesk.engine.provenance import catalog_record, session_record

        print_json(args, envelope("catalog build", session=session_record(session),
                                  run={"threads": args.threads_used,
                                       "seconds": round(time.perf_counter() - t0, 2)},
                                  catalog=catalog_record(cat), corpus=str(args.corpus),
                                  snippets_per_feature=args.limit, **info))
    else:
        print(f"catalog written to {cat.path}: {info['tokens']:,} tokens, {alive:,} of "
              f"{cat.d_sae:,} features active")
    return 0


def _import(args) -> int:
    from steerdesk.engine.catalog import (
        Catalog,
        catalog_folder_for,
        create_empty,
        import_labels,
    )

    sae = Path(args.sae).expanduser()
    if not sae.exists():
        raise InputError(f"{sae}: no such SAE file or folder")
    label_file = Path(args.file).expanduser()
    if not label_file.exists():
        raise InputError(f"{label_file}: no such label file or folder")
    folder = sae if (sae / "catalog.json").is_file() else catalog_folder_for(sae)
    if (folder / "catalog.json").is_file():
        cat = Catalog(folder)
    else:
        from steerdesk.engine.sae import load_sae

        loaded = load_sae(sae, allow_pickle=args.allow_pickle)
        cat = create_empty(folder, loaded.d_sae, sae=str(sae))
    report = import_labels(cat, label_file, source=args.source, layer=args.layer,
                           replace=args.replace)
    if wants_json(args):
        from steerdesk.engine.provenance import catalog_record

        print_json(args, envelope("catalog import", session={"catalog": catalog_record(cat)},
                                  **{**report.to_dict(), "path": str(label_file)}))
        return 0
    print(f"imported {report.imported:,} labels from {label_file.name} into {cat.path}"
          + (f" ({report.duplicates} extra explanations skipped)" if report.duplicates else ""))
    if report.shadowed_by_user:
        print(f"{report.shadowed_by_user} features keep the label you typed yourself")
    for w in report.warnings:
        print(f"note: {w}")
    return 0


def _info(args) -> int:
    from steerdesk.cli.features import open_catalog_arg

    cat = open_catalog_arg(args.sae)
    labels = cat.labels()
    counts = {s: 0 for s in ("user", "hand", "imported", "automatic")}
    for i in range(cat.d_sae):
        src = cat.label_source(i)
        if src:
            counts[src] += 1
    mx = cat.max_activations()
    info = {"catalog": str(cat.path), **{k: v for k, v in cat.manifest.items() if k != "format"},
            "labelled": sum(1 for x in labels if x), "labels_by_source": counts,
            "features_active": int((mx > 0).sum()) if mx is not None else None}
    if wants_json(args):
        from steerdesk.engine.provenance import catalog_record

        print_json(args, envelope("catalog info", session={"catalog": catalog_record(cat)},
                                  manifest={k: v for k, v in cat.manifest.items()
                                            if k != "format"},
                                  labelled=info["labelled"], labels_by_source=counts,
                                  features_active=info["features_active"]))
        return 0
    for k, v in info.items():
        print(f"{k}: {v}")
    return 0
