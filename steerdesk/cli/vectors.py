"""`steerdesk vectors build`: a steering vector from two sets of example texts (DiffMean).

    vectors build [--model M --sae S] --a FILE --b FILE --name N --out FILE

The vector is the mean activation at the SAE's hook over every token of set A's texts minus
the same over set B's (engine/diffmean.py). Steer with it by `generate --vector FILE=STRENGTH`,
or put it in a preset in the app."""

from __future__ import annotations

import argparse
from pathlib import Path

from steerdesk.cli.common import (add_json_args, add_session_args, envelope,
                                  open_session_from_args, print_json, wants_json, warn)
from steerdesk.engine.errors import InputError

VECTOR_HELP = """\
how it is built:
  Each text of A and of B runs through the model unsteered. The vector is the mean activation
  at the SAE's hook over every token of A minus the same over B (special tokens such as the
  BOS are left out). Its typical size is the root-mean-square of every token's activation
  along it: 'generate --vector FILE=1' adds one typical activation along the concept, 2 twice
  that, -1 pushes away from it.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "vectors", help="steering vectors built from example texts",
        description="Build a steering vector from texts that show a concept (A) and texts "
                    "that do not (B), to steer with beside SAE features.")
    sub = p.add_subparsers(title="vectors subcommands", dest="vectors_command", metavar="ACTION")
    p.set_defaults(func=run, _parser=p)
    s = sub.add_parser("build", help="a vector from two files of example texts",
                       description="Each file holds example texts: .txt (one per line), .jsonl "
                                   "(one document per line) or a folder of them.",
                       epilog=VECTOR_HELP)
    add_session_args(s)
    s.add_argument("--a", required=True, metavar="FILE",
                   help="texts that show the concept (required)")
    s.add_argument("--b", required=True, metavar="FILE",
                   help="texts that do not (required)")
    s.add_argument("--name", default=None, metavar="N",
                   help="the vector's name (default: the name of the --a file)")
    s.add_argument("--out", required=True, metavar="FILE",
                   help="where to write the vector, as JSON (required)")
    add_json_args(s)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "vectors_command", None) != "build":
        args._parser.print_help()
        return 2
    return _build(args)


def _build(args) -> int:
    from steerdesk.engine.catalog.corpus import read_texts
    from steerdesk.engine.diffmean import build_vector, save_vector

    texts_a, texts_b = read_texts(args.a), read_texts(args.b)
    name = args.name if args.name is not None else Path(args.a).stem
    session = open_session_from_args(args, quiet=wants_json(args))
    vector = build_vector(session, texts_a, texts_b, name=name)
    out = save_vector(vector, args.out)
    if wants_json(args):
        from steerdesk.engine.provenance import session_record

        print_json(args, envelope("vectors build", session=session_record(session),
                                  run={"threads": args.threads_used},
                                  a={"path": str(args.a), "texts": len(texts_a)},
                                  b={"path": str(args.b), "texts": len(texts_b)},
                                  path=str(out), vector=vector.to_json()))
        return 0
    n_a, n_b = vector.n_tokens
    print(f"vector {vector.name!r}: {len(texts_a)} texts ({n_a} tokens) in A, {len(texts_b)} "
          f"({n_b} tokens) in B, at {vector.hook}; typical size along it {vector.typical:.4g}; "
          f"saved to {out}")
    return 0


def parse_vector_arg(text: str):
    """`FILE=STRENGTH` (generate --vector) as a VectorSteer; the file is read here."""
    from steerdesk.cli.parsing import finite_float
    from steerdesk.engine.diffmean import load_vector
    from steerdesk.engine.steering import VectorSteer

    path, sep, value = text.rpartition("=")
    if not sep or not path:
        raise InputError(f"--vector {text!r}: expected FILE=STRENGTH, for example formal.json=2")
    try:
        strength = finite_float(value)
    except argparse.ArgumentTypeError:
        raise InputError(f"--vector {text!r}: the strength {value!r} is not a finite number") \
            from None
    return VectorSteer(load_vector(path), strength)


def read_vector_args(args) -> list:
    """Every --vector FILE=STRENGTH, read before the model loads (a bad file costs no wait)."""
    return [parse_vector_arg(t) for t in getattr(args, "vector", None) or []]


def vector_column(items: list, session):
    """The --vector items as one column of their own (None without any), checked against the
    session's width; a vector from another hook or model is a warning."""
    from steerdesk.engine.steering import SteeringSpec

    if not items:
        return None
    for item in items:
        for note in item.vector.fit_notes(session.sae.d_in, session.hook.name, session.lm.name):
            warn(note)
    return SteeringSpec(vectors=items, unit="raw")
