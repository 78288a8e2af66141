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
import sys
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
from steerdesk.engine.errors import InputError

SEARCH_SCORE = ("score: how well the label matches; by words 4 is the exact label, 2-3 the "
                "query inside it, 1-2 all its words, 0-1 a fuzzy match; by meaning the cosine "
                "similarity of the two sentence embeddings (-1 to 1)")
CONTRAST_SCORE = ("score: the difference of the feature's mean activation on A and on B over "
                  "their pooled standard deviation (floored at 10% of its largest value); "
                  "above 0: more active on A, below 0: on B. auroc: the chance that an A text "
                  "has more of it than a B text")


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
                                   "needs pip install 'steerdesk[semantic]').",
                       epilog=SEARCH_SCORE)
    _add_sae_arg(s)
    s.add_argument("query", help="words to look for in the labels")
    s.add_argument("--meaning", action="store_true",
                   help="rank by closeness of meaning (sentence embeddings) instead of words")
    s.add_argument("--limit", type=whole(1), default=20, metavar="N", help="at most N features")
    add_json_args(s)

    s = sub.add_parser("show", help="one feature's label, statistics and top snippets")
    _add_sae_arg(s)
    s.add_argument("index", type=whole(0), help="the feature index")
    limit = s.add_argument("--limit", type=whole(0), default=5, metavar="N",
                           help="snippets to print in text mode (--json gives all)")
    add_deprecated(s, "--snippets", limit)
    add_json_args(s)

    s = sub.add_parser("text", help=TEXT_HELP, description=TEXT_DESCRIPTION)
    s.add_argument("text", help="the text to read")
    add_text_args(s)

    s = sub.add_parser("contrast", help="features that best separate two sets of texts",
                       description="Each file holds example texts: .txt (one per line), .jsonl "
                                   "(one document per line) or a folder of them. Lists the "
                                   "features that best separate them, and fits a small "
                                   "classifier on the best few.", epilog=CONTRAST_SCORE)
    add_session_args(s)
    s.add_argument("--a", required=True, metavar="FILE", help="texts of set A (required)")
    s.add_argument("--b", required=True, metavar="FILE", help="texts of set B (required)")
    s.add_argument("--names", default=None, metavar="A,B",
                   help="names of the two sets (default: the file names)")
    s.add_argument("--pool", choices=("max", "mean"), default="max",
                   help="one value per text: the max or the mean over its tokens")
    limit = s.add_argument("--limit", type=whole(1), default=20, metavar="N",
                           help="features to list; it does not change the classifier, which "
                                "--classifier-features sizes (default: 20)")
    add_deprecated(s, "--top", limit)
    s.add_argument("--classifier-features", type=whole(1, 4096), default=8, metavar="N",
                   help="how many of the best features the classifier uses")
    s.add_argument("--save-classifier", metavar="FILE",
                   help="save the fitted classifier as JSON, to apply with features classify "
                        "(default: not saved)")
    add_json_args(s)

    s = sub.add_parser("classify", help="apply a saved contrast classifier to texts")
    add_session_args(s)
    s.add_argument("--classifier", required=True, metavar="FILE",
                   help="a classifier saved by features contrast --save-classifier (required)")
    s.add_argument("texts", nargs="*", help="texts to classify")
    s.add_argument("--file", metavar="FILE",
                   help="or: a file of texts, as for contrast (default: none)")
    add_json_args(s)


TEXT_HELP = "the features most active on a text"
TEXT_DESCRIPTION = ("List the SAE features most active on a text, ranked by their max or mean "
                    "over its tokens (special tokens such as BOS left out), with the token where "
                    "each peaks.")


def add_text_args(p: argparse.ArgumentParser) -> None:
    """The options of `features text` and of `inspect`, its other name (beside the text)."""
    add_session_args(p)
    p.add_argument("--by", choices=("max", "mean"), default="max",
                   help="rank by the max or the mean over the text's tokens")
    limit = p.add_argument("--limit", type=whole(1), default=20, metavar="N",
                           help="how many features")
    add_deprecated(p, "--top", limit)
    add_json_args(p)


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


def _catalog_session(cat) -> dict:
    from steerdesk.engine.provenance import catalog_record

    return {"catalog": catalog_record(cat)}


def _session_parts(args, session) -> dict:
    from steerdesk.engine.provenance import session_record

    return {"session": session_record(session), "run": {"threads": args.threads_used}}


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

    cat = open_catalog_arg(args.sae)
    hits = (search_meaning if args.meaning else search_words)(cat, args.query, args.limit)
    mx, dn = cat.max_activations(), cat.densities()
    rows = [{"index": i, "label": cat.label(i) or None, "score": round(s, 4),
             "label_source": cat.label_source(i) or None, "max_activation": _stat(mx, i),
             "density": _stat(dn, i)} for i, s in hits]
    if wants_json(args):
        print_json(args, envelope("features search", session=_catalog_session(cat),
                                  query=args.query, by="meaning" if args.meaning else "words",
                                  limit=args.limit, features=rows))
        return 0
    if not rows:
        print(f"no feature label matches {args.query!r}")
        return 0
    print(f"{'feature':>7}  {'score':>6}  label")
    for r in rows:
        print(f"{r['index']:>7}  {r['score']:6.3f}  {r['label'] or ''}")
    return 0


def _show(args) -> int:
    cat = open_catalog_arg(args.sae)
    rec = cat.feature(args.index)
    if wants_json(args):
        print_json(args, envelope("features show", session=_catalog_session(cat),
                                  feature={**rec.to_dict(), "label": rec.label or None,
                                           "label_source": rec.label_source or None}))
        return 0
    print(f"feature {rec.index}: {rec.label or '(no label)'}"
          + (f"  [{rec.label_source}]" if rec.label_source else ""))
    if rec.max_activation is not None:
        print(f"max activation {rec.max_activation:.4g}, active on "
              f"{100 * (rec.density or 0):.3g}% of tokens")
    if rec.promoted:
        print("promotes:   " + ", ".join(f"{t!r} {v:+.2f}" for t, v in rec.promoted[:8]))
        print("suppresses: " + ", ".join(f"{t!r} {v:+.2f}" for t, v in rec.suppressed[:8]))
    for s in rec.snippets[: args.limit]:
        text = "".join(f"[[{t}]]" if j == s.peak else t for j, t in enumerate(s.tokens))
        print(f"  {s.max_value:8.3f}  {' '.join(text.split())}")
    return 0


def text_command(args) -> int:
    """`features text` and `inspect`: one reading of the text, ranked."""
    from steerdesk.engine.reading import peak_token, rank_features, text_activations

    session = open_session_from_args(args, quiet=wants_json(args))
    ids, acts, keep = text_activations(session, [args.text])[0]
    rows = [{"index": i, "label": session.label_of(i), "activation": v,
             "peak_token": peak_token(acts, keep, i)}
            for i, v in rank_features(acts, keep, args.limit, args.by)]
    if wants_json(args):
        tok = session.tokenizer
        print_json(args, envelope("features text", **_session_parts(args, session),
                                  text=args.text, by=args.by, limit=args.limit,
                                  tokens=[{"id": i, "text": tok.decode([i])} for i in ids],
                                  features=rows))
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
    from dataclasses import asdict

    from steerdesk.engine.catalog import contrast
    from steerdesk.engine.catalog.corpus import read_texts

    texts_a, texts_b = read_texts(args.a), read_texts(args.b)
    names = _names(args)
    session = open_session_from_args(args, quiet=wants_json(args))
    result = contrast(session, texts_a, texts_b, top=args.limit, pool=args.pool, names=names,
                      classifier_features=args.classifier_features)
    if args.save_classifier:
        result.classifier.save(Path(args.save_classifier).expanduser())
    if wants_json(args):
        features = [{"index": f.index, "label": f.label or None, "score": f.score,
                     "auroc": f.auroc, "mean_a": f.mean_a, "mean_b": f.mean_b}
                    for f in result.features]
        print_json(args, envelope(
            "features contrast", **_session_parts(args, session),
            a={"name": names[0], "path": str(args.a), "texts": result.n_a},
            b={"name": names[1], "path": str(args.b), "texts": result.n_b},
            pool=args.pool, limit=args.limit, features=features,
            classifier={**asdict(result.classifier), "path": args.save_classifier}))
        return 0
    print(f"{len(texts_a)} texts in {names[0]}, {len(texts_b)} in {names[1]}. score: the "
          f"difference of the means over their spread, > 0: more active on {names[0]}; auroc: "
          f"the chance that a {names[0]} text has more of it than a {names[1]} text")
    print(f"{'feature':>7}  {'score':>7}  {'auroc':>5}  {'mean ' + names[0][:8]:>13}  "
          f"{'mean ' + names[1][:8]:>13}  label")
    for f in result.features:
        print(f"{f.index:>7}  {f.score:7.3f}  {f.auroc:5.2f}  {f.mean_a:13.4g}  {f.mean_b:13.4g}  "
              f"{f.label}")
    acc = result.classifier.accuracy
    print(f"classifier on its {len(result.classifier.features)} best features "
          f"(--classifier-features; --limit only changes this list): "
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
    session = open_session_from_args(args, quiet=wants_json(args))
    out = clf.apply(session, texts)
    if wants_json(args):
        print_json(args, envelope("features classify", **_session_parts(args, session),
                                  classifier={"path": str(args.classifier), "names": clf.names,
                                              "features": clf.features},
                                  texts=out))
        return 0
    for r in out:
        print(f"{r['label']:>12}  {r['p_a']:.3f}  {r['text'][:80]}")
    return 0


if __name__ == "__main__":  # pragma: no cover - for a quick look without the main CLI
    parser = argparse.ArgumentParser(prog="steerdesk")
    register(parser.add_subparsers())
    a = parser.parse_args()
    sys.exit(a.func(a))
