"""Options every model-using subcommand shares, and opening a session from them."""

from __future__ import annotations

import argparse
import sys

from steerdesk.engine.errors import InputError


def add_session_args(parser: argparse.ArgumentParser, *, model_required: bool = False) -> None:
    g = parser.add_argument_group("model and SAE (default: the pocket pack shipped with steerdesk)")
    g.add_argument("--model", metavar="M", required=model_required,
                   help="a model folder, or a hub id already in the local Hugging Face cache")
    g.add_argument("--sae", metavar="S", help="an SAE folder or file (SAELens, Gemma Scope, "
                   "sparsify, dictionary_learning, OpenAI, Llama Scope, Gemma Scope 2), or RELEASE:SAE_ID "
                   "pulled with `steerdesk models pull` (its model is implied)")
    g.add_argument("--hook", metavar="NAME", help="where the SAE reads the model, when its files "
                   "do not say (e.g. blocks.6.hook_resid_post or layers.6)")
    g.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, ...")
    g.add_argument("--dtype", default="auto", help="auto (bf16 on GPU, fp32 on CPU), float32, "
                   "bfloat16, float16")
    g.add_argument("--allow-pickle", action="store_true", help="yes, read .pt/.pth SAE files "
                   "(pickle; read with torch.load(weights_only=True))")
    g.add_argument("--trust-remote-code", action="store_true",
                   help="yes, run Python code shipped in the model's repository")


def session_paths(args: argparse.Namespace) -> tuple[str, str]:
    """The model and SAE to open: both given, or neither (then the pocket pack)."""
    from steerdesk.engine.pack import pocket_available, pocket_model, pocket_sae

    if args.model and args.sae:
        return args.model, args.sae
    if args.sae and _named_sae(args.sae):  # RELEASE:SAE_ID brings its model
        return "", args.sae
    if args.model or args.sae:
        missing = "--sae" if args.model else "--model"
        raise InputError(f"{missing} is missing: give both --model and --sae, or neither to use "
                         "the pocket pack")
    if not pocket_available():
        raise InputError("no --model/--sae given and the pocket pack is not installed "
                         "(rebuild it with python -m steerdesk.pocket.build)")
    return str(pocket_model()), str(pocket_sae())


def _named_sae(value: str) -> bool:
    from steerdesk.engine.pulls import looks_like_name

    return looks_like_name(value)


def open_session_from_args(args: argparse.Namespace, *, quiet: bool = False):
    from steerdesk.engine.session import open_session

    model, sae = session_paths(args)

    quiet = quiet or not sys.stderr.isatty()  # a progress line only where someone watches it

    def progress(fraction: float, message: str) -> None:
        if not quiet:
            print(f"\r[{fraction:4.0%}] {message:<60}", end="", file=sys.stderr, flush=True)

    session = open_session(model, sae, hook=args.hook, device=args.device, dtype=args.dtype,
                           allow_pickle=args.allow_pickle,
                           trust_remote_code=args.trust_remote_code, progress=progress)
    if not quiet:
        print(file=sys.stderr)
    return session
