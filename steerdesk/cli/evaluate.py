"""`steerdesk evaluate`: does the preset's steering reach its target, does prompting, and at
what cost? One table: per column (baseline, steered, prompted) the share of texts that reached
it and their perplexity under the unsteered model. The work is engine/evaluate.py's."""

from __future__ import annotations

import argparse
import sys

from steerdesk.cli.common import (
    add_json_args,
    add_session_args,
    envelope,
    open_session_from_args,
    print_json,
    wants_json,
    warn,
)
from steerdesk.cli.parsing import positive_float, whole
from steerdesk.engine.errors import InputError

EPILOG = """\
reached: the language judge (steerdesk/pocket/language_judge.py, a stop-word vote) says the new
  text is in the preset's language (from its name, "speak German" -> de, or --language); or,
  with --classifier FILE (saved by features contrast --save-classifier), the classifier labels
  it with its first name.
perplexity: of the new tokens under the unsteered model, each column's own prompt as context
  (the prompted column's includes its instruction); lower reads more like the model's own text.
Each prompt x seed is one generation of all three columns, sampled with the same noise.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="steering against prompting: share reached and perplexity",
        description="For each prompt, generate the baseline, the preset's steered column and\n"
                    "the prompted column (the preset's prompt_equivalent), and report one\n"
                    "table: the share of each column's texts that reached the target, and the\n"
                    "mean and median perplexity under the unsteered model.", epilog=EPILOG,
        )
    add_session_args(p)
    g = p.add_argument_group("what to evaluate")
    g.add_argument("--preset", required=True, metavar="FILE_OR_NAME",
                   help="the steering: a preset file, or a preset of the loaded pack by name "
                        "(required)")
    g.add_argument("--prompts", required=True, metavar="FILE",
                   help="a text file with one prompt per line (required)")
    g.add_argument("--prompted", metavar="INSTRUCTION",
                   help="the prompted column's instruction (default: the preset's "
                        "prompt_equivalent; without either, no prompted column)")
    g = p.add_argument_group("judging")
    g.add_argument("--judge", choices=("language",), default=None,
                   help="the pocket pack's language judge (the default, unless --classifier)")
    g.add_argument("--language", choices=("en", "de", "es", "it", "pl", "ru"),
                   help="the language the judge looks for (default: the one the preset's name "
                        "names)")
    g.add_argument("--classifier", metavar="FILE",
                   help="judge with a saved classifier instead: reached = its first label "
                        "(default: the language judge)")
    g = p.add_argument_group("sampling")
    g.add_argument("--seeds", type=whole(1, 1000), default=2, metavar="N",
                   help="seeds 0..N-1 for every prompt")
    g.add_argument("--max-new-tokens", type=whole(1, 4096), default=28, metavar="K",
                   help="new tokens per column")
    g.add_argument("--temperature", type=positive_float, default=0.9, metavar="T",
                   help="sampling temperature (above 0: greedy would give one text per prompt)")
    g.add_argument("--chat", action="store_true",
                   help="wrap each prompt in the tokenizer's chat template")
    add_json_args(p, "print the table and every sample as one JSON object")
    p.set_defaults(func=run)


def preset_language(preset, given: str | None) -> str:
    """The judge's target: --language, else the language the preset's name names."""
    from steerdesk.pocket.language_judge import NAMES

    if given:
        return given
    named = [code for code, name in NAMES.items() if name.lower() in preset.name.lower()]
    if len(named) != 1:
        raise InputError(f"preset {preset.name!r}: its name names no one language the judge "
                         "knows; say which with --language CODE", field="language")
    return named[0]


def make_judge(args, session, preset):
    """(judge over texts, its description for the output)."""
    if args.classifier:
        if args.judge or args.language:
            raise InputError("--classifier judges by itself: give it without --judge and "
                             "--language", field="classifier")
        from steerdesk.engine.catalog.contrast_sets import Classifier

        clf = Classifier.load(args.classifier)

        def by_classifier(texts):
            if not texts:
                return []
            return [r["label"] == clf.names[0] for r in clf.apply(session, texts)]
        return by_classifier, {"kind": "classifier", "file": str(args.classifier),
                               "reached_label": clf.names[0]}
    from steerdesk.pocket.language_judge import judge

    lang = preset_language(preset, args.language)
    return (lambda texts: [judge(t) == lang for t in texts]), {"kind": "language",
                                                                "language": lang}


def run(args: argparse.Namespace) -> int:
    from steerdesk.engine.evaluate import evaluate, read_prompts
    from steerdesk.engine.prompted import check_instruction
    from steerdesk.engine.presets import resolve_preset

    prompts = read_prompts(args.prompts)
    check_instruction(args.prompted)
    session = open_session_from_args(args, quiet=wants_json(args))
    preset = resolve_preset(args.preset, session.sae_path)
    judge, judged_by = make_judge(args, session, preset)
    prompted = args.prompted or preset.prompt_equivalent or None
    if prompted is None:
        warn(f"preset {preset.name!r} has no prompt_equivalent and no --prompted was given: "
             "no prompted column")
    quiet = wants_json(args) or not sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if not quiet:
            print(f"\rsteerdesk: generation {done} of {total}", end="", file=sys.stderr,
                  flush=True)

    seeds = list(range(args.seeds))
    result = evaluate(session, preset.to_spec(), prompted, prompts, judge, seeds=seeds,
                      max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                      chat=args.chat, progress=progress)
    if not quiet:
        print(file=sys.stderr)
    settings = {"preset": preset.name, "prompted": prompted, "prompts": len(prompts),
                "seeds": seeds, "max_new_tokens": args.max_new_tokens,
                "temperature": args.temperature, "chat": args.chat}
    if wants_json(args):
        from dataclasses import asdict

        print_json(args, envelope("evaluate", settings=settings, judge=judged_by,
                                  columns=[asdict(c) for c in result.columns],
                                  samples=[asdict(s) for s in result.samples]))
    else:
        print_table(result, settings, judged_by, sys.stdout)
    return 0


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def print_table(result, settings: dict, judged_by: dict, out) -> None:
    what = (f"the language judge ({judged_by['language']})" if judged_by["kind"] == "language"
            else f"classifier {judged_by['file']} (label {judged_by['reached_label']!r})")
    print(f"preset {settings['preset']!r}, prompted with {settings['prompted']!r}; "
          f"{settings['prompts']} prompts x {len(settings['seeds'])} seeds, "
          f"{settings['max_new_tokens']} new tokens, temperature {settings['temperature']}; "
          f"reached: judged by {what}", file=out)
    print(f"{'column':<10} {'reached':>14} {'perplexity mean':>16} {'median':>9}  name", file=out)
    for c in result.columns:
        hits = round(c.reached * c.samples)
        reached = f"{hits}/{c.samples} {c.reached:4.0%}"
        print(f"{c.column:<10} {reached:>14} {_num(c.perplexity_mean):>16} "
              f"{_num(c.perplexity_median):>9}  {c.name}", file=out)
