"""`steerdesk models ...`: the gallery of real models and SAEs, and pulling them.

    models list [--all] [--json]
    models pull NAME [--sae-only]        NAME: a gallery model (gpt2-small) or RELEASE:SAE_ID
    models labels NAME                   Neuronpedia's explanations into the SAE's catalog

Downloads go to the Hugging Face cache (HF_HOME); HF_TOKEN or `hf auth login` gives access to
gated repos. Ctrl-C stops a pull; the same command resumes it. Once pulled,
`--sae RELEASE:SAE_ID` works in every command, offline, with its model implied.
"""

from __future__ import annotations

import argparse
import sys

from steerdesk.cli.common import add_json_args, envelope, print_json, wants_json

from steerdesk.engine.downloads import PullProgress, human_bytes, human_seconds


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="list and download real models and SAEs",
                              description="The gallery of model + SAE pairs steerdesk knows, "
                                          "and downloads into the Hugging Face cache.")
    sub = p.add_subparsers(title="models subcommands", dest="models_command", metavar="ACTION")
    p.set_defaults(func=run, _parser=p)
    ls = sub.add_parser("list", help="the gallery, with sizes and what is downloaded")
    ls.add_argument("--all", action="store_true",
                    help="every SAE release known (with sae-lens installed, its whole registry)")
    add_json_args(ls)
    pull = sub.add_parser("pull", help="download a gallery model or RELEASE:SAE_ID and its model")
    pull.add_argument("name", metavar="NAME", help="gpt2-small, or e.g. "
                      "gpt2-small-res-jb:blocks.8.hook_resid_pre")
    pull.add_argument("--sae-only", action="store_true", help="only the SAE, not its model")
    lab = sub.add_parser("labels", help="fetch Neuronpedia's explanations for a pulled SAE")
    lab.add_argument("name", metavar="NAME", help="RELEASE:SAE_ID of a pulled SAE")
    lab.add_argument("--base-url", metavar="URL", help="Neuronpedia's dataset export server "
                     "(default: its S3 bucket, or STEERDESK_NEURONPEDIA_URL)")


def run(args: argparse.Namespace) -> int:
    action = {"list": _list, "pull": _pull, "labels": _labels}.get(args.models_command)
    if action is None:
        args._parser.print_help()
        return 0
    return action(args)


def _needs(model) -> str:
    if model is None or not model.params:
        return "?"
    return (f"{human_bytes(model.weights_bytes('bfloat16'))} bf16 / "
            f"{human_bytes(model.weights_bytes('float32'))} fp32")


def _licence(model, release) -> str:
    if model is not None and model.gated:
        return f"gated ({model.licence})"
    return (model.licence if model is not None and model.licence else "?") + (
        "" if release.licence is None else f", SAE {release.licence}")


def _rows(all_releases: bool) -> list[dict]:
    from steerdesk.engine import pulls
    from steerdesk.engine.gallery import load_gallery

    gallery = load_gallery()
    rows = []
    for e in gallery.entries:
        rel, sae = gallery.lookup(e.name)
        t = pulls.target(e.name, gallery)
        size = (t.model.download_estimate() if t.model else 0) or 0
        rows.append({"name": e.name, "sae": t.name, "model": t.model.repo if t.model else None,
                     "download": size + (rel.sae_bytes(sae) or 0), "licence": _licence(t.model, rel),
                     "needs": _needs(t.model), "downloaded": pulls.status(t), "good_for": e.good_for,
                     "neuronpedia": f"{rel.neuronpedia_model}/{sae.neuronpedia}" if sae.neuronpedia
                     else None})
    if all_releases:
        for name, rel in sorted(gallery.releases.items()):
            rows.append({"release": name, "repo": rel.repo, "saes": len(rel.saes),
                         "model": rel.model, "pullable": rel.pullable, "origin": rel.origin,
                         "example": f"{name}:{rel.saes[0].id}" if rel.saes else None,
                         "note": rel.note})
    return rows


def _list(args) -> int:
    rows = _rows(args.all)
    if wants_json(args):
        print_json(args, envelope("models list", models=[r for r in rows if "name" in r],
                                  releases=[r for r in rows if "release" in r]))
        return 0
    print(f"{'NAME':<20} {'DOWNLOAD':>9}  {'WEIGHTS NEED':<28} {'LICENCE':<20} HERE  SAE")
    for r in (r for r in rows if "name" in r):
        here = "yes" if all(r["downloaded"].values()) else ("part" if any(r["downloaded"].values())
                                                             else "no")
        print(f"{r['name']:<20} {human_bytes(r['download']):>9}  {r['needs']:<28} "
              f"{r['licence']:<20} {here:<4}  {r['sae']}")
    if args.all:
        print(f"\n{'RELEASE':<44} {'SAEs':>5}  {'PULL':<4} EXAMPLE")
        for r in (r for r in rows if "release" in r):
            print(f"{r['release']:<44} {r['saes']:>5}  {'yes' if r['pullable'] else 'no':<4} "
                  f"{r['example'] or ''}{'  (' + r['note'] + ')' if r['note'] else ''}")
    else:
        print("\nsteerdesk models pull NAME downloads one; --all lists every SAE release.")
    return 0


class Bar:
    """One line on stderr: [####....] 45%  120.3 MB / 548.1 MB  2.1 MB/s  ETA 3:12  file."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.last = -1

    def __call__(self, p: PullProgress) -> None:
        pct = int(p.fraction * 100)
        if not self.live and pct // 10 == self.last // 10:
            return  # into a log: a line every 10%
        self.last = pct
        filled = int(p.fraction * 24)
        rate = f"{human_bytes(p.rate)}/s" if p.rate else "-"
        line = (f"[{'#' * filled}{'.' * (24 - filled)}] {pct:3d}%  {human_bytes(p.done)} / "
                f"{human_bytes(p.total)}  {rate}  ETA {human_seconds(p.eta)}  {p.file[-30:]}")
        print(f"\r{line:<110}" if self.live else line, end="" if self.live else "\n",
              file=self.stream, flush=True)

    def close(self) -> None:
        if self.live:
            print(file=self.stream)


def _pull(args) -> int:
    from steerdesk.engine import pulls

    t, plan = pulls.plan(args.name, with_model=not args.sae_only)
    print(f"{t.name}: {human_bytes(plan.total)} in {len(plan.files)} files, "
          f"{human_bytes(plan.remaining)} to download", file=sys.stderr)
    bar = Bar()
    try:
        from steerdesk.engine.downloads import run_pull

        run_pull(plan, bar)
    except KeyboardInterrupt:
        bar.close()
        print("steerdesk: stopped; run the same command to resume", file=sys.stderr)
        return 130
    bar.close()
    r = pulls.resolve(t.name) if not args.sae_only else None
    print(f"ready: steerdesk generate --sae {t.name} --prompt ...")
    if r is not None and r.target.sae.neuronpedia:
        print(f"labels: steerdesk models labels {t.name}  (Neuronpedia's explanations)")
    return 0


def _labels(args) -> int:
    from steerdesk.engine import pulls
    from steerdesk.engine.catalog import catalog_folder_for, create_empty
    from steerdesk.engine.errors import InputError
    from steerdesk.engine.neuronpedia import LabelProgress, import_neuronpedia
    from steerdesk.engine.sae import load_sae

    r = pulls.resolve(args.name)
    sae, rel = r.target.sae, r.target.release
    if not (sae.neuronpedia and rel.neuronpedia_model):
        raise InputError(f"{r.target.name}: Neuronpedia has no id for this SAE")
    d_sae = load_sae(r.sae_path, hook=r.hook).d_sae
    catalog = create_empty(catalog_folder_for(r.sae_path), d_sae)

    def tell(p: LabelProgress) -> None:
        print(f"\rbatch {p.batch}  {human_bytes(p.done) if p.total and p.total > 1000 else p.done}"
              f"  ETA {human_seconds(p.eta)}   ", end="", file=sys.stderr, flush=True)

    report = import_neuronpedia(catalog, rel.neuronpedia_model, sae.neuronpedia,
                                base=args.base_url, progress=tell)
    print(file=sys.stderr)
    print(f"imported {report.imported} labels from Neuronpedia "
          f"({rel.neuronpedia_model}/{sae.neuronpedia}) into {catalog.folder}")
    return 0
