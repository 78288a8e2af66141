"""Fuzzing every reader: valid files of each kind are mutated (truncated, bytes changed, fields
deleted or retyped, tensors reshaped or poisoned with NaN/Inf, nested absurdly, swapped for a
folder or a FIFO) and read through steerdesk's own entry points.

Each mutant must either load and work (an SAE encodes and decodes to finite values; a catalog
answers for its features) or raise InputError with ONE line that names the artifact. Anything
else - another exception, a second line, non-finite activations, a hang - is a failure, listed
with the mutation that caused it.

About 1,000 mutants run by default; STEERDESK_FUZZ_CASES=N runs N per target group instead of
the default share, STEERDESK_FUZZ_SEED picks another seed."""

from __future__ import annotations

import os
import random
import signal
import threading
from collections import Counter
from pathlib import Path

import mutate
import pytest
import seeds
import torch

from steerdesk.engine.errors import InputError

CASE_SECONDS = 5.0
SEED = int(os.environ.get("STEERDESK_FUZZ_SEED", "20261202"))


def _cases(default: int) -> int:
    return int(os.environ.get("STEERDESK_FUZZ_CASES", default))


class Hang(Exception):
    pass


def _on_alarm(signum, frame):
    raise Hang()


def _unblock_fifos(root: Path, hung: list) -> None:
    """A reader blocked opening a FIFO cannot be interrupted from Python; opening the FIFO's
    other end lets it go on (and the case is reported as a hang)."""
    for p in ([root] if not root.is_dir() else root.rglob("*")):
        try:
            if p.is_fifo():
                fd = os.open(p, os.O_WRONLY | os.O_NONBLOCK)
                os.close(fd)
                hung.append(str(p))
        except OSError:
            pass   # nobody is reading it: nothing blocked


def run_case(root: Path, oracle) -> str | None:
    """None if the mutant was handled well, else what went wrong."""
    hung: list[str] = []
    watchdog = threading.Timer(CASE_SECONDS, _unblock_fifos, (root, hung))
    watchdog.start()
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS * 2)
    try:
        oracle(root)
    except InputError as exc:
        text = exc.for_cli()
        if "\n" in text:
            return f"InputError of several lines: {text[:200]!r}"
        if str(root) not in text and root.name not in text:
            return f"InputError that does not name the file: {text[:200]!r}"
        return None
    except Hang:
        return "hang (no answer within the time limit)"
    except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        watchdog.cancel()
    if hung:
        return "hang opening a FIFO"
    return None


def fuzz(seed_root: Path, entry: Path, oracle, n: int, tmp: Path, name: str) -> None:
    rng = random.Random(f"{SEED}-{name}")
    failures: list[tuple[str, str]] = []
    for case in range(n):
        work = tmp / f"{name}-{case}"
        mutate.copy_artifact(seed_root, work)
        target = work / entry.relative_to(seed_root) if seed_root != entry else work
        what = mutate.mutate(target, rng)
        problem = run_case(target, oracle)
        if problem:
            failures.append((what, problem))
    if failures:
        kinds = Counter(p.split(":")[0] for _, p in failures)
        listing = "\n".join(f"  {w}\n    -> {p}" for w, p in failures[:25])
        pytest.fail(f"{len(failures)} of {n} {name} mutants were handled badly "
                    f"({dict(kinds)}):\n{listing}")


# ---- oracles: what a user's action does with the file ------------------------------------------


def use_sae(path: Path) -> None:
    from steerdesk.engine.sae import load_sae

    sae = load_sae(path, allow_pickle=True, hook="blocks.0.hook_resid_post")
    x = torch.randn(4, sae.d_in, generator=torch.Generator().manual_seed(0)) * 2
    acts = sae.encode(x)
    recon = sae.reconstruct(x)
    sub = sae.encode_subset(x, torch.arange(min(3, sae.d_sae)))
    if not (torch.isfinite(acts).all() and torch.isfinite(recon).all()
            and torch.isfinite(sub).all()):
        raise AssertionError("loaded, but encodes to NaN or Inf")


def use_preset(path: Path) -> None:
    from steerdesk.engine.presets import load_preset

    load_preset(path).to_spec()


def use_labels(path: Path) -> None:
    from steerdesk.engine.catalog.labels_import import read_labels

    read_labels(path, seeds.D_SAE)


def use_corpus(path: Path) -> None:
    from steerdesk.engine.catalog.corpus import Corpus, read_texts

    docs = list(Corpus(path))
    if not all(isinstance(d.text, str) for d, _ in docs):
        raise AssertionError("a document's text is not a string")
    read_texts(path)


def use_catalog(path: Path) -> None:
    from steerdesk.engine.catalog.store import Catalog

    cat = Catalog(path)
    cat.labels()
    cat.max_activations()
    cat.densities()
    for i in sorted({0, cat.d_sae // 2, cat.d_sae - 1}):
        rec = cat.feature(i)
        for s in rec.snippets:
            assert len(s.tokens) == len(s.values)
            assert not s.tokens or 0 <= s.peak < len(s.tokens)


def use_settings(path: Path) -> None:
    """Settings are advisory: loading never raises, whatever the file holds."""
    import os

    from steerdesk.ui.settings import load_settings

    before = os.environ.get("STEERDESK_CONFIG_DIR")
    os.environ["STEERDESK_CONFIG_DIR"] = str(path.parent)
    try:
        s = load_settings()
        s.to_json()
    except InputError as exc:
        raise AssertionError(f"load_settings raised {exc}") from None
    finally:
        if before is None:
            os.environ.pop("STEERDESK_CONFIG_DIR", None)
        else:
            os.environ["STEERDESK_CONFIG_DIR"] = before


SAE_SEEDS = {
    "saelens-relu": lambda f, g: seeds.saelens(f, g, "standard"),
    "saelens-jumprelu": lambda f, g: seeds.saelens(f, g, "jumprelu"),
    "saelens-topk": lambda f, g: seeds.saelens(f, g, "topk"),
    "saelens-gated": lambda f, g: seeds.saelens(f, g, "gated"),
    "gemmascope": seeds.gemmascope,
    "gemmascope2": seeds.gemmascope2,
    "sparsify": seeds.sparsify,
    "dictionary_learning": seeds.dictionary_learning,
    "openai": seeds.openai,
    "llamascope": seeds.llamascope,
}
OTHER_SEEDS = {
    "preset": (seeds.preset, use_preset),
    "labels-jsonl": (seeds.labels_jsonl, use_labels),
    "labels-json-gz": (seeds.labels_json_gz, use_labels),
    "labels-csv": (seeds.labels_csv, use_labels),
    "corpus-jsonl": (seeds.corpus_jsonl, use_corpus),
    "corpus-txt": (seeds.corpus_txt, use_corpus),
    "settings": (seeds.settings, use_settings),
}


def _seed(tmp: Path, name: str, build) -> tuple[Path, Path]:
    root = tmp / f"seed-{name}"
    entry = build(root, torch.Generator().manual_seed(7))
    return root, entry


@pytest.mark.parametrize("name", sorted(SAE_SEEDS))
def test_sae_formats_survive_mutation(name, tmp_path):
    root, entry = _seed(tmp_path, name, SAE_SEEDS[name])
    use_sae(entry)   # the seed itself must be valid
    fuzz(root, entry, use_sae, _cases(60), tmp_path, name)


@pytest.mark.parametrize("name", sorted(OTHER_SEEDS))
def test_presets_labels_and_corpora_survive_mutation(name, tmp_path):
    build, oracle = OTHER_SEEDS[name]
    root, entry = _seed(tmp_path, name, build)
    oracle(entry)
    fuzz(root, entry, oracle, _cases(40), tmp_path, name)


def test_catalogs_survive_mutation(fuzz_catalog, tmp_path):
    use_catalog(fuzz_catalog)
    fuzz(fuzz_catalog, fuzz_catalog, use_catalog, _cases(200), tmp_path, "catalog")
