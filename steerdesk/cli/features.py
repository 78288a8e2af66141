"""`steerdesk features ...`: find and inspect SAE features.

    features search [--sae S] QUERY [--meaning]      labels by words (or by meaning)
    features show [--sae S] IDX                      one feature's label, stats and snippets
    features text [--model M --sae S] TEXT           the features most active on a text
    features contrast [--model M --sae S] --a FILE --b FILE [--save-classifier F]
    features classify [--model M --sae S] --classifier F TEXT...

search and show read only the catalog beside the SAE; the others load the model too.
Every subcommand takes --json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from steerdesk.cli.common import add_session_args, open_session_from_args
from steerdesk.engine.errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "features", help="search, show and contrast SAE features",
        description="Find features by the words or meaning of their labels, by a text they fire "
                    "on, or by contrasting two sets of texts; show one feature's evidence.")
    sub = p.add_subparsers(title="features subcommands", dest="features_command", metavar="ACTION")
    p.set_defaults(func=run, _parser=p)

    s = sub.add_parser("search", help="features whose labels match a query",
                       description="Search labels: exact, then substring, then all words, then "
                                   "fuzzy matches (case-insensitive); or by meaning (--meaning, "
                                   "needs pip install 'steerdesk[semantic]').")
    _add_sae_arg(s)
    s.add_argument("query", help="words to look for in the labels")
    s.add_argument("--meaning", action="store_true",
                   help="rank by closeness of meaning (sentence embeddings) instead of words")
    s.add_argument("--limit", type=int, default=20, metavar="N", help="at most N results (20)")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("show", help="one feature's label, statistics and top snippets")
    _add_sae_arg(s)
    s.add_argument("index", type=int, help="the feature index")
    s.add_argument("--snippets", type=int, default=5, metavar="N",
                   help="snippets to print in text mode (default 5; --json gives all)")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("text", help=TEXT_HELP, description=TEXT_DESCRIPTION)
    s.add_argument("text", help="the text to read")
    add_text_args(s)

    s = sub.add_parser("contrast", help="features that best separate two sets of texts",
                       description="Each file holds example texts: .txt (one per line), .jsonl "
                                   "(one document per line) or a folder of them.")
    add_session_args(s)
    s.add_argument("--a", required=True, metavar="FILE", help="texts of set A")
    s.add_argument("--b", required=True, metavar="FILE", help="texts of set B")
    s.add_argument("--names", default=None, metavar="A,B",
                   help="names of the two sets (default: the file names)")
    s.add_argument("--pool", choices=("max", "mean"), default="max",
                   help="one value per text: the max or the mean over its tokens (default max)")
    s.add_argument("--top", type=int, default=20, metavar="N")
    s.add_argument("--save-classifier", metavar="FILE",
                   help="save the fitted classifier as JSON, to apply with features classify")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("classify", help="apply a saved contrast classifier to texts")
    add_session_args(s)
    s.add_argument("--classifier", required=True, metavar="FILE")
    s.add_argument("texts", nargs="*", help="texts to classify")
    s.add_argument("--file", metavar="FILE", help="or: a file of texts (as for contrast)")
    s.add_argument("--json", action="store_true", help="print one JSON object")


TEXT_HELP = "the features most active on a text"
TEXT_DESCRIPTION = ("List the SAE features most active on a text, ranked by their max or mean "
                    "over its tokens (special tokens such as BOS left out), with the token where "
                    "each peaks.")


def add_text_args(p: argparse.ArgumentParser) -> None:
    """The options of `features text` and of `inspect`, its other name (beside the text)."""
    add_session_args(p)
    p.add_argument("--by", choices=("max", "mean"), default="max",
                   help="rank by the max or the mean over the text's tokens (default max)")
    p.add_argument("--top", type=int, default=20, metavar="K", help="how many features (20)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _add_sae_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sae", metavar="S", help="an SAE folder or file with a catalog beside it, or "
                   "a catalog folder (default: the pocket pack's SAE)")


def open_catalog_arg(sae: str | None):
    """The catalog for --sae (an SAE path or a catalog folder), or the pocket pack's."""
    from steerdesk.engine.catalog import Catalog, catalog_folder_for

    if sae is None:
        from steerdesk.engine.pack import pocket_sae

        path = pocket_sae()
        if not path.exists():
            raise InputError("no --sae given and the pocket pack is not installed "
                             "(rebuild it with python -m steerdesk.pocket.build)")
    else:
        path = Path(sae).expanduser()
        if not path.exists():
            raise InputError(f"{path}: no such SAE file or folder")
    if (path / "catalog.json").is_file():
        return Catalog(path)
    folder = catalog_folder_for(path)
    if not (folder / "catalog.json").is_file():
        raise InputError(f"{path}: there is no feature catalog beside this SAE; build one with "
                         "'steerdesk catalog build' or import labels with 'steerdesk catalog import'")
    return Catalog(folder)


def _print_json(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=1))


def _stat(t, i):
    return None if t is None else float(t[i])


def run(args: argparse.Namespace) -> int:
    cmd = getattr(args, "features_command", None)
    if cmd is None:
        args._parser.print_help()
        return 2
    return {"search": _search, "show": _show, "text": text_command, "contrast": _contrast,
            "classify": _classify}[cmd](args)


def _search(args) -> int:
    from steerdesk.engine.catalog import search_meaning, search_words

    if args.limit < 1:
        raise InputError(f"--limit {args.limit}: must be at least 1")
    cat = open_catalog_arg(args.sae)
    hits = (search_meaning if args.meaning else search_words)(cat, args.query, args.limit)
    mx, dn = cat.max_activations(), cat.densities()
    rows = [{"index": i, "score": round(s, 4), "label": cat.label(i),
             "label_source": cat.label_source(i), "max_activation": _stat(mx, i),
             "density": _stat(dn, i)} for i, s in hits]
    if args.json:
        _print_json({"query": args.query, "mode": "meaning" if args.meaning else "words",
                     "catalog": str(cat.path), "results": rows})
        return 0
    if not rows:
        print(f"no feature label matches {args.query!r}")
        return 0
    for r in rows:
        print(f"{r['index']:>7}  {r['score']:6.3f}  {r['label']}")
    return 0


def _show(args) -> int:
    cat = open_catalog_arg(args.sae)
    rec = cat.feature(args.index)
    if args.json:
        _print_json({"catalog": str(cat.path), **rec.to_dict()})
        return 0
    print(f"feature {rec.index}: {rec.label or '(no label)'}"
          + (f"  [{rec.label_source}]" if rec.label_source else ""))
    if rec.max_activation is not None:
        print(f"max activation {rec.max_activation:.4g}, active on "
              f"{100 * (rec.density or 0):.3g}% of tokens")
    if rec.promoted:
        print("promotes:   " + ", ".join(f"{t!r} {v:+.2f}" for t, v in rec.promoted[:8]))
        print("suppresses: " + ", ".join(f"{t!r} {v:+.2f}" for t, v in rec.suppressed[:8]))
    for s in rec.snippets[: max(0, args.snippets)]:
        text = "".join(f"[[{t}]]" if j == s.peak else t for j, t in enumerate(s.tokens))
        print(f"  {s.max_value:8.3f}  {' '.join(text.split())}")
    return 0


def text_command(args) -> int:
    """`features text` and `inspect`: one reading of the text, ranked."""
    from steerdesk.engine.reading import peak_token, rank_features, text_activations

    if args.top < 1:
        raise InputError(f"--top {args.top}: must be at least 1")
    session = open_session_from_args(args, quiet=args.json)
    ids, acts, keep = text_activations(session, [args.text])[0]
    rows = [{"index": i, "label": session.label_of(i), "activation": v,
             "peak_token": peak_token(acts, keep, i)}
            for i, v in rank_features(acts, keep, args.top, args.by)]
    if args.json:
        tok = session.tokenizer
        _print_json({"text": args.text, "by": args.by,
                     "tokens": [{"id": i, "text": tok.decode([i])} for i in ids],
                     "features": rows})
        return 0
    print(f"{'feature':>7}  {args.by:>8}  label")
    for r in rows:
        print(f"{r['index']:>7}  {r['activation']:8.3f}  {r['label'] or ''}")
    return 0


def _names(args) -> tuple[str, str]:
    if args.names:
        parts = [x.strip() for x in args.names.split(",")]
        if len(parts) != 2 or not all(parts):
            raise InputError(f"--names {args.names!r}: expected two names, like spam,ham")
        return parts[0], parts[1]
    return Path(args.a).stem, Path(args.b).stem


def _contrast(args) -> int:
    from steerdesk.engine.catalog import contrast
    from steerdesk.engine.catalog.corpus import read_texts

    texts_a, texts_b = read_texts(args.a), read_texts(args.b)
    names = _names(args)
    session = open_session_from_args(args, quiet=args.json)
    result = contrast(session, texts_a, texts_b, top=args.top, pool=args.pool, names=names)
    if args.save_classifier:
        result.classifier.save(Path(args.save_classifier).expanduser())
    if args.json:
        _print_json({"a": str(args.a), "b": str(args.b), **result.to_dict(),
                     "classifier_saved": args.save_classifier})
        return 0
    print(f"{len(texts_a)} texts in {names[0]}, {len(texts_b)} in {names[1]}; "
          f"score > 0: more active on {names[0]}")
    print(f"{'feature':>7}  {'score':>7}  {'auroc':>5}  {'mean ' + names[0][:8]:>13}  "
          f"{'mean ' + names[1][:8]:>13}  label")
    for f in result.features:
        print(f"{f.index:>7}  {f.score:7.3f}  {f.auroc:5.2f}  {f.mean_a:13.4g}  {f.mean_b:13.4g}  "
              f"{f.label}")
    acc = result.classifier.accuracy
    print(f"classifier on {len(result.classifier.features)} features: "
          f"{100 * (acc or 0):.0f}% right on these texts"
          + (f"; saved to {args.save_classifier}" if args.save_classifier else ""))
    return 0


def _classify(args) -> int:
    from steerdesk.engine.catalog import Classifier
    from steerdesk.engine.catalog.corpus import read_texts

    clf = Classifier.load(args.classifier)
    texts = list(args.texts) + (read_texts(args.file) if args.file else [])
    if not texts:
        raise InputError("no texts to classify: give them as arguments or with --file")
    session = open_session_from_args(args, quiet=args.json)
    out = clf.apply(session, texts)
    if args.json:
        _print_json({"classifier": str(args.classifier), "results": out})
        return 0
    for r in out:
        print(f"{r['label']:>12}  {r['p_a']:.3f}  {r['text'][:80]}")
    return 0


if __name__ == "__main__":  # pragma: no cover - for a quick look without the main CLI
    parser = argparse.ArgumentParser(prog="steerdesk")
    register(parser.add_subparsers())
    a = parser.parse_args()
    sys.exit(a.func(a))
