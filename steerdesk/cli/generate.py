"""`steerdesk generate`: baseline and steered continuations of one prompt, side by side.

The options come in groups, one function each (prompt, steering, sampling, readout, output),
so that a new kind of steering adds its flags to `add_steering_args` and its variants in
`build_variants`. The JSON record is made in generate_json.py, a rerun from it in replay.py."""

from __future__ import annotations

import argparse
import sys

from steerdesk.cli.common import (
    add_json_args,
    add_session_args,
    open_session_from_args,
    print_json,
    wants_json,
    warn,
)
from steerdesk.cli.parsing import finite_float, whole
from steerdesk.engine.errors import InputError

STRENGTH_AND_UNITS = """\
strength and units:
  Each --steer is one more column, decoded in the same batch as the baseline. Its items are
  IDX=STRENGTH in the default --mode, or with a mode of their own: 598=2,1416=ablate,77=clamp:5.
    add     adds STRENGTH x the feature's decoder row to the activation at the SAE's hook
    clamp   sets the feature's activation to STRENGTH, keeping the SAE's error term
    ablate  clamps it to 0 (a strength given with it is not used)
  --unit raw (default): strengths in the SAE's own activation scale. --unit max: in multiples
  of each feature's max activation in the catalog beside the SAE ("2x max"). The JSON record
  keeps both, with the max activation used, so --replay does not depend on the catalog.

steering vectors:
  --vector FILE=STRENGTH adds a vector made by 'steerdesk vectors build' at STRENGTH times its
  typical size (1 = one typical activation along it). All --vector items together make one
  column of their own, after the --steer and --preset columns; to steer with features and a
  vector in one column, save both in a preset in the app.

rules (conditional steering):
  when CONDITION then ACTION [for N]. CONDITION: 12>3.5 or 12<0.2x (feature 12's activation,
  raw or in x max), classifier FILE.json>0.8 (a saved classifier's score), text "word" (a whole
  word, any case) or text /regex/ (the text generated so far). ACTION: items as in --steer
  (40=8,7=clamp:3,9=ablate; strengths ending in x are in x max), or stop (the column ends).
  A rule holding at a token steers the next N tokens, or with no 'for N' the next token only
  (so: for as long as it holds). Conditions read the activation as it reaches the SAE's hook.
  --mode and --unit do not apply to rules. Examples:
    --rule "when 12>3.5 then 40=8 for 5"   --rule 'when text "bridge" then stop'

the prompted column:
  --prompted "Answer in German" adds one more column, last: the same prompt with that
  instruction before it (in chat mode, in the user turn), unsteered, sampled with the same seed
  and noise. It is what prompting alone does, to compare the steered columns with, at their
  cost (perplexity under the unsteered model). --prompted-from-preset takes the instruction from
  the --preset's "prompt_equivalent".

greedy and sampled:
  --temperature 0 (default) is greedy; top-k, top-p and the seed apply when it is above 0.
  Every column draws its token with the same noise, so differences come from steering alone.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "generate", help="baseline and steered continuations of a prompt",
        description="Continue a prompt without steering (the baseline) and with each --steer "
                    "variant, decoded together as one batch with the same sampling noise.",
        epilog=STRENGTH_AND_UNITS)
    add_session_args(p)
    before = len(p._actions)
    add_prompt_args(p)
    add_steering_args(p)
    add_sampling_args(p)
    add_readout_args(p)
    # What a record's own settings replace under --replay (to warn when one is given too).
    p.set_defaults(_run_options=[(a.option_strings[0], a.dest, a.default)
                                 for a in p._actions[before:]])
    g = p.add_argument_group("output")
    add_json_args(g, "print the run's record as one JSON object")
    g.add_argument("--replay", metavar="RUN.json",
                   help="rerun the run a --json record describes, check its files by their "
                        "hashes, and say whether the tokens come out the same (default: off)")
    p.set_defaults(func=run)


def add_prompt_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("prompt")
    g.add_argument("--prompt", help="the text to continue (required, unless --replay)")
    g.add_argument("--chat", action="store_true",
                   help="wrap the prompt in the tokenizer's chat template (a warning where it "
                        "has none)")


def add_steering_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("steering (see 'strength and units' below)")
    g.add_argument("--steer", action="append", default=[], metavar="SPEC",
                   help="one steered column: IDX=STRENGTH[,IDX=MODE:STRENGTH,IDX=ablate...]; "
                        "repeat for more columns (default: none, the baseline alone)")
    g.add_argument("--rule", action="append", default=[], metavar="RULE",
                   help="one more column, unsteered until its rule holds: 'when 12>3.5 then "
                        "40=8 for 5' (see 'rules' below); several rules of one column are "
                        "joined with ';'; repeat for more columns (default: none)")
    g.add_argument("--preset", metavar="FILE_OR_NAME",
                   help="one more column from a preset file, or from a preset of the loaded "
                        "pack by its name (default: none)")
    g.add_argument("--vector", action="append", default=[], metavar="FILE=STRENGTH",
                   help="a steering vector file (steerdesk vectors build) at STRENGTH x its "
                        "typical size; all --vector items make one more column (default: none)")
    g.add_argument("--mode", choices=("add", "clamp", "ablate"), default="add",
                   help="the mode of items given as plain IDX=STRENGTH")
    g.add_argument("--unit", choices=("raw", "max"), default="raw",
                   help="strengths in raw units, or in multiples of each feature's max "
                        "activation")
    g.add_argument("--positions", choices=("all", "generated"), default="all",
                   help="steer the prompt and the new tokens (all), or the new tokens only")
    g.add_argument("--prompted", metavar="INSTRUCTION",
                   help="one more column: the prompt with this instruction before it, "
                        "unsteered (see 'the prompted column' below; default: none)")
    g.add_argument("--prompted-from-preset", action="store_true",
                   help="the prompted column with the instruction the --preset file gives as "
                        "its prompt_equivalent (default: off)")


def add_sampling_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("sampling")
    g.add_argument("--max-new-tokens", type=int, default=48, metavar="N",
                   help="new tokens per column, at most 65536")
    g.add_argument("--temperature", type=finite_float, default=0.0, metavar="T",
                   help="0 is greedy; above 0 samples")
    g.add_argument("--top-k", type=int, default=0, metavar="K",
                   help="sample from the K likeliest tokens only; 0 is all (as in transformers)")
    g.add_argument("--top-p", type=finite_float, default=1.0, metavar="P",
                   help="sample from the likeliest tokens whose probabilities add up to P")
    g.add_argument("--repetition-penalty", type=finite_float, default=1.0, metavar="R",
                   help="above 1 makes tokens already in the text less likely (as in "
                        "transformers); 1 is off")
    g.add_argument("--seed", type=int, default=0, metavar="N",
                   help="the sampling noise's seed: the same seed gives the same text")
    g.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="decode with the compiled step (static cache, torch.compile); the first "
                        "run of a shape compiles for a while, later runs reuse torch's cache "
                        "(default: off on the CPU, where compiling costs more than it saves in "
                        "one generation)")


def add_readout_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("readout (shown as a table under each column, and in the JSON)")
    g.add_argument("--watch", default=None, metavar="IDX,IDX...",
                   help="features whose activation to report at every token (default: the "
                        "steered ones in the JSON, none in the text output)")
    g.add_argument("--top-features", type=whole(0, 4096), default=0, metavar="K",
                   help="also report the K most active features at every token; 0 is off")
    g.add_argument("--prompt-logprobs", action="store_true",
                   help="also the log-probability of every prompt token in each column (costs a "
                        "[prompt x vocabulary] pass; default: off)")


def _int_list(text: str, flag: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"{flag} {text!r}: expected feature indices like 12,40,7") from None


def build_variants(args: argparse.Namespace) -> list:
    """The --steer columns, in order; notes about them (a strength with ablate) become warnings."""
    from steerdesk.engine.steering import parse_spec

    from steerdesk.engine.rules import ClassifierCondition, parse_rules
    from steerdesk.engine.steering import SteeringSpec

    notes: list[str] = []
    variants = [parse_spec(s, args.mode, args.unit, notes) for s in args.steer]
    for note in notes:
        warn(note)
    for text in args.rule:
        rules = parse_rules(text)
        for rule in rules:   # a classifier file is read now: a bad one costs no model load
            if isinstance(rule.condition, ClassifierCondition):
                rule.condition.load()
        variants.append(SteeringSpec(rules=rules))
    return variants


def steered_features(variants) -> list[int]:
    """The features a run steers, fixed or by rule: what --watch is by default."""
    found = {f.index for v in variants for f in v.features}
    for v in variants:
        found.update(f.index for r in v.rules if not r.stops for f in r.action)
    return sorted(found)


def build_request(args: argparse.Namespace, variants: list):
    from steerdesk.engine.generation import GenerationRequest

    watch = _int_list(args.watch, "--watch") if args.watch else steered_features(variants)
    request = GenerationRequest(
        prompt=args.prompt, variants=variants, max_new_tokens=args.max_new_tokens,
        temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed,
        repetition_penalty=args.repetition_penalty, chat=args.chat, watch=watch,
        top_k_features=args.top_features, positions=args.positions,
        prompt_logprobs=args.prompt_logprobs, compile=args.compile, prompted=args.prompted)
    request.validate()   # before the model loads: a bad value costs no wait
    return request


def warn_about_sampling(args: argparse.Namespace) -> None:
    if args.temperature == 0:
        if args.top_k:
            warn(f"--top-k {args.top_k} does nothing with --temperature 0 (greedy); it is "
                 "sampling top-k, as in transformers (the K most active features per token "
                 "are --top-features K)")
        if args.top_p != 1.0:
            warn(f"--top-p {args.top_p} does nothing with --temperature 0 (greedy)")


def run(args: argparse.Namespace) -> int:
    if args.replay:
        from steerdesk.cli.replay import replay

        return replay(args)
    if not args.prompt:
        raise InputError("there is no prompt; give one with --prompt TEXT, or rerun a record "
                         "with --replay RUN.json")
    from steerdesk.cli.vectors import read_vector_args, vector_column
    from steerdesk.engine.generation import generate
    from steerdesk.engine.presets import resolve_preset

    if args.prompted_from_preset and (args.prompted is not None or not args.preset):
        raise InputError("--prompted-from-preset takes the instruction from --preset's "
                         "prompt_equivalent: give --preset, and no --prompted with it")
    request = build_request(args, build_variants(args))
    vectors = read_vector_args(args)
    warn_about_sampling(args)
    session = open_session_from_args(args, quiet=wants_json(args))
    if args.preset:
        preset = resolve_preset(args.preset, session.sae_path)
        request.variants.append(preset.to_spec())
        if not args.watch:
            request.watch = steered_features(request.variants)
        if args.prompted_from_preset:
            if not preset.prompt_equivalent:
                raise InputError(f"preset {preset.name!r} has no prompt_equivalent; give the "
                                 "instruction with --prompted TEXT", field="prompt_equivalent")
            request.prompted = preset.prompt_equivalent
    column = vector_column(vectors, session)
    if column is not None:
        request.variants.append(column)
    if args.compile:
        _compile_ahead(session, request, quiet=wants_json(args))
    result = generate(session, request)
    if result.done.decode.startswith("eager:"):
        warn(f"decoded without compiling ({result.done.decode[7:]})")
    report(args, session, request, result)
    return 0


def _compile_ahead(session, request, quiet: bool) -> None:
    """Compile the decode step before generating, saying so on stderr (it can take a minute)."""
    from steerdesk.engine.compiled import prepare

    def progress(fraction: float, message: str) -> None:
        if not quiet:
            print(f"steerdesk: {message}", file=sys.stderr, flush=True)

    prepare(session, request, progress)


def report(args: argparse.Namespace, session, request, result, extra: dict | None = None) -> None:
    """The run as JSON or as text, and the warnings it calls for."""
    if args.chat and not result.prompt.chat_template_used:
        warn(f"{session.lm.name}: its tokenizer has no chat template; --chat used the prompt "
             "as it is")
    if wants_json(args):
        from steerdesk.cli.generate_json import to_json

        print_json(args, {**to_json(session, request, result, threads=args.threads_used),
                          **(extra or {})})
    else:
        from steerdesk.cli.generate_text import print_text

        print_text(session, request, result,
                   table=bool(args.watch) or request.top_k_features > 0, out=sys.stdout)
