"""`steerdesk inspect`: the features most active on a text."""

from __future__ import annotations

import argparse
import json

from steerdesk.cli.common import add_session_args, open_session_from_args


def register(subparsers) -> None:
    p = subparsers.add_parser("inspect", help="list the features most active on a text",
                              description="List the SAE features most active on a text, ranked by "
                                          "their max over its tokens (special tokens ignored).")
    add_session_args(p)
    p.add_argument("--text", required=True, help="the text to read")
    p.add_argument("--top", type=int, default=20, metavar="K", help="how many features (20)")
    p.add_argument("--by", choices=("max", "mean"), default="max", help="rank by max or mean")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from steerdesk.engine.reading import features_on_text, text_activations

    session = open_session_from_args(args, quiet=args.json)
    ranked = features_on_text(session, args.text, args.top, args.by)
    label = session.catalog.label if session.catalog is not None else (lambda i: "")
    if args.json:
        ids, acts, _ = text_activations(session, [args.text])[0]
        tok = session.tokenizer
        print(json.dumps({"text": args.text, "by": args.by,
                          "tokens": [{"id": i, "text": tok.decode([i])} for i in ids],
                          "features": [{"index": i, "value": v, "label": label(i),
                                        "peak_token": int(acts[:, i].argmax())}
                                       for i, v in ranked]}, ensure_ascii=False))
        return 0
    print(f"{'feature':>8}  {args.by:>9}  label")
    for i, v in ranked:
        print(f"{i:>8}  {v:9.3f}  {label(i)}")
    return 0
