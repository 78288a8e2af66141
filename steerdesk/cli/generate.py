"""`steerdesk generate`: baseline and steered continuations of one prompt, side by side."""

from __future__ import annotations

import argparse
import json
import sys

from steerdesk.cli.common import add_session_args, open_session_from_args
from steerdesk.engine.errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "generate", help="baseline and steered continuations of a prompt",
        description="Continue a prompt without steering (the baseline) and with each --steer "
                    "variant, decoded together as one batch with the same sampling noise.")
    add_session_args(p)
    p.add_argument("--prompt", required=True, help="the text to continue")
    p.add_argument("--steer", action="append", default=[], metavar="SPEC",
                   help="one steered variant: IDX=STRENGTH[,IDX=STRENGTH...]; repeat for more")
    p.add_argument("--preset", metavar="FILE_OR_NAME",
                   help="a preset file, or the name of a preset of the loaded pack: one more variant")
    p.add_argument("--mode", choices=("add", "clamp", "ablate"), default="add",
                   help="add: add strength x the decoder row; clamp: set the activation to the "
                        "strength; ablate: set it to 0 (default add)")
    p.add_argument("--unit", choices=("raw", "max"), default="raw",
                   help="strengths in raw units or in multiples of each feature's max activation")
    p.add_argument("--positions", choices=("all", "generated"), default="all",
                   help="steer every position (default) or only generated tokens")
    p.add_argument("--max-new-tokens", type=int, default=48, metavar="N")
    p.add_argument("--temperature", type=float, default=0.0, metavar="T", help="0 = greedy")
    p.add_argument("--top-p", type=float, default=1.0, metavar="P")
    p.add_argument("--repetition-penalty", type=float, default=1.0, metavar="R")
    p.add_argument("--seed", type=int, default=0, metavar="N")
    p.add_argument("--chat", action="store_true", help="apply the tokenizer's chat template")
    p.add_argument("--watch", default="", metavar="IDX,IDX...",
                   help="features whose activations to report (default: the steered ones)")
    p.add_argument("--top-k", type=int, default=0, metavar="K",
                   help="also report the K most active features at every token")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="decode with the compiled step (static cache, torch.compile); the first "
                        "run of a shape compiles for a while, later runs reuse torch's cache "
                        "(default: off on the CPU, where compiling costs more than it saves in "
                        "one generation)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _int_list(text: str, flag: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"{flag} {text!r}: expected feature indices like 12,40,7") from None


def run(args: argparse.Namespace) -> int:
    from steerdesk.engine.generation import GenerationRequest, generate
    from steerdesk.engine.presets import resolve_preset
    from steerdesk.engine.steering import parse_spec

    variants = [parse_spec(s, args.mode, args.unit) for s in args.steer]
    watch = _int_list(args.watch, "--watch")
    session = open_session_from_args(args, quiet=args.json)
    if args.preset:
        variants.append(resolve_preset(args.preset, session.sae_path).to_spec())
    if not watch:
        watch = sorted({f.index for v in variants for f in v.features})
    request = GenerationRequest(
        prompt=args.prompt, variants=variants, max_new_tokens=args.max_new_tokens,
        temperature=args.temperature, top_p=args.top_p, seed=args.seed,
        repetition_penalty=args.repetition_penalty, chat=args.chat, watch=watch,
        top_k_features=args.top_k, positions=args.positions, compile=args.compile)
    if args.compile:
        _compile_ahead(session, request, quiet=args.json)
    result = generate(session, request)
    if result.done.decode.startswith("eager:"):
        print(f"steerdesk: decoded without compiling ({result.done.decode[7:]})", file=sys.stderr)
    if args.json:
        print(json.dumps(to_json(session, request, result), ensure_ascii=False))
    else:
        print_text(request, result)
    return 0


def _compile_ahead(session, request, quiet: bool) -> None:
    """Compile the decode step before generating, saying so on stderr (it can take a minute)."""
    from steerdesk.engine.compiled import prepare

    def progress(fraction: float, message: str) -> None:
        if not quiet:
            print(f"steerdesk: {message}", file=sys.stderr, flush=True)

    prepare(session, request, progress)


def _acts(watch: list[int], values: list[float]) -> dict[str, float]:
    return {str(i): v for i, v in zip(watch, values)}


def _tokens(result_row, watch, with_top: bool) -> list[dict]:
    out = []
    for t in result_row.tokens:
        item = {"id": t.token_id, "text": t.text, "logprob": t.logprob,
                "activations": _acts(watch, t.activations)}
        if with_top:
            item["top_features"] = [[i, v] for i, v in t.top_features]
        out.append(item)
    return out


def to_json(session, request, result) -> dict:
    watch, with_top = request.watch, request.top_k_features > 0
    prompt = result.prompt
    prompt_tokens = []
    for pos, (tid, text) in enumerate(zip(prompt.token_ids, prompt.token_texts)):
        item = {"id": tid, "text": text, "activations": _acts(watch, prompt.activations[0][pos])}
        if with_top:
            item["top_features"] = [[i, v] for i, v in prompt.top_features[0][pos]]
        prompt_tokens.append(item)
    base = result.rows[0]
    return {
        "config": {
            **session.describe(),
            "prompt": request.prompt, "chat_template_used": prompt.chat_template_used,
            "max_new_tokens": request.max_new_tokens, "temperature": request.temperature,
            "top_p": request.top_p, "seed": request.seed,
            "repetition_penalty": request.repetition_penalty, "positions": request.positions,
            "watch": watch, "finish_reason": result.done.reason, "decode": result.done.decode,
            "seconds": round(result.done.seconds, 4),
        },
        "prompt": {"tokens": prompt_tokens},
        "baseline": {"text": base.text, "tokens": _tokens(base, watch, with_top)},
        "steered": [{"spec": row.name, "unit": spec.unit,
                     "features": [{"index": f.index, "mode": f.mode, "strength": f.strength}
                                  for f in spec.features],
                     "text": row.text, "tokens": _tokens(row, watch, with_top)}
                    for spec, row in zip(request.variants, result.rows[1:])],
    }


def print_text(request, result) -> None:
    out = sys.stdout
    for row in result.rows:
        print(f"=== {row.name}", file=out)
        print(request.prompt + row.text, file=out)
        print(file=out)
