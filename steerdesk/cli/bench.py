"""`steerdesk bench`: steerdesk's generation timed against plain `model.generate`."""

from __future__ import annotations

import argparse
import shlex
import sys

from steerdesk.cli.parsing import positive_float, whole


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench", help="time steered generation against model.generate",
        description="Time baseline-only, side-by-side, sweep and live-readout generation, first "
                    "token and peak memory, each as a ratio to plain greedy model.generate of "
                    "the same model, prompt and number of new tokens. Without --quick: the "
                    "pocket pack, a random GPT-2 small and a random Llama-3.2-1B-shaped model "
                    "(about 10 minutes on a 2-core CPU).")
    p.add_argument("--quick", action="store_true",
                   help="the pocket pack only, 32 new tokens, 5 repetitions (under a minute)")
    p.add_argument("--models", metavar="M,M",
                   help="which models: pocket, gpt2-small, llama-3.2-1b (and tiny, for tests); "
                        "default: all three (--quick: pocket)")
    p.add_argument("--prompt-tokens", type=whole(2, 1 << 20), metavar="N",
                   help="prompt length for every model (default: 128; 64 for llama-3.2-1b)")
    p.add_argument("--new-tokens", type=whole(1, 1 << 20), metavar="N",
                   help="new tokens per run for every model (default: pocket 64, gpt2-small 32, "
                        "llama-3.2-1b 16; --quick 32)")
    p.add_argument("--repeats", type=whole(1, 1000), metavar="N",
                   help="timed runs of each mode (default: pocket 5, gpt2-small 3, "
                        "llama-3.2-1b 3; --quick 5)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--dtype", default="float32", help="float32 (default) or bfloat16 (GPU)")
    p.add_argument("--threads", type=whole(1, 1024), metavar="N", default=1,
                   help="torch CPU threads (default 1: steady timings on a shared or busy "
                        "machine, where more threads wait on each other; the ratios change "
                        "little with the thread count)")
    p.add_argument("--bandwidth", type=positive_float, metavar="TB/S",
                   help="GPU memory bandwidth for the decode bound weight_bytes / bandwidth "
                        "(default: known for H100 3.35, H200 4.8)")
    p.add_argument("--compile", action="store_true",
                   help="also time (a)-(e) with the compiled decode step (static cache, "
                        "torch.compile), and what compiling took")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run)


def options_from_args(args: argparse.Namespace):
    from steerdesk.bench.harness import FULL_PLAN, QUICK_PLAN, BenchOptions, ModelPlan
    from steerdesk.bench.models import ALL_MODELS
    from steerdesk.engine.errors import InputError

    base = {p.name: p for p in (QUICK_PLAN if args.quick else FULL_PLAN)}
    names = ([m.strip() for m in args.models.split(",") if m.strip()] if args.models
             else list(base))
    plans = []
    for name in names:
        if name not in ALL_MODELS:
            raise InputError(f"--models: unknown model {name!r}; choose from "
                             f"{', '.join(ALL_MODELS)}")
        default = base.get(name) or next((p for p in FULL_PLAN if p.name == name),
                                         ModelPlan(name, 32, 8, 2))
        plan = ModelPlan(name, args.prompt_tokens or default.prompt_tokens,
                         args.new_tokens if args.new_tokens is not None else default.new_tokens,
                         args.repeats or default.repeats)
        if plan.new_tokens < 1 or plan.prompt_tokens < 2 or plan.repeats < 1:
            raise InputError("--new-tokens and --repeats must be at least 1, --prompt-tokens 2")
        plans.append(plan)
    log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    return BenchOptions(plans=tuple(plans), device=args.device, dtype=args.dtype,
                        threads=args.threads, bandwidth_tbs=args.bandwidth, quick=args.quick,
                        compile=args.compile, log=log)


def run(args: argparse.Namespace) -> int:
    from steerdesk.bench.harness import run_bench
    from steerdesk.bench.report import to_json, to_markdown

    opts = options_from_args(args)
    result = run_bench(opts)
    result["command"] = getattr(args, "command_line", None) or \
        "steerdesk bench " + " ".join(shlex.quote(a) for a in sys.argv[1:] if a != "bench")
    print(to_json(result) if args.json else to_markdown(result), end="\n" if args.json else "")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="steerdesk")
    register(parser.add_subparsers(dest="command"))
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(["bench", *argv] if argv[:1] != ["bench"] else argv)
    args.command_line = "steerdesk bench " + " ".join(
        shlex.quote(a) for a in argv if a != "bench")
    from steerdesk.engine.errors import InputError

    try:
        return run(args)
    except InputError as exc:
        print(f"steerdesk: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
