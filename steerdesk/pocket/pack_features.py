"""The catalog and presets stages of the pocket build.

catalog: `build_catalog` over the held-out split (each document tagged with its language and
collection), then the hand labels: the language features found by the rule in
`steer_eval.rank_language_features` (checked by reading their snippets) and the other features
named by hand in `pack_choices.HAND_LABELS` (only when the SAE is the one they were read from).

presets: for each target language, the rule's top candidates are swept over strengths
(`steer_eval.STRENGTHS` x max activation) on seeded continuations of English prompts; the preset
takes the smallest strength whose share of continuations judged in the language reaches
`TARGET_SHARE`, the candidate needing the least strength winning (ties: lower perplexity).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import torch

from .language_judge import NAMES

TARGETS = ("de", "ru", "es", "pl", "it")
TARGET_SHARE = 0.9
TOPIC = "computers"
TOPIC_SHARE = 0.8
CANDIDATES = 3
Log = Callable[[str], None]


def sae_fingerprint(sae_dir: Path) -> str:
    return hashlib.sha256((Path(sae_dir) / "sae_weights.safetensors").read_bytes()).hexdigest()[:16]


def language_label(lang: str) -> str:
    return "Russian (Cyrillic) text" if lang == "ru" else f"{NAMES[lang]} text"


def _session(model_dir: Path, sae_dir: Path):
    from steerdesk.engine.session import open_session

    return open_session(model_dir, sae_dir, device="cpu", dtype="float32")


def language_means(session, tokens_dir: Path, sae_dir: Path, tokens_per_language: int = 8_000):
    """Mean activation of every feature per language on held-out tokens; cached beside the
    token streams, keyed by the SAE's fingerprint (the catalog and presets stages share it)."""
    from .steer_eval import language_specificity
    from .token_streams import load_streams
    from .tokenizer import EOT
    from .train_sae import SaeBuildSettings, heldout_activations

    cache = Path(tokens_dir).parent / "sae_language_means.pt"
    key = f"{sae_fingerprint(sae_dir)}:{tokens_per_language}"
    if cache.is_file():
        saved = torch.load(cache, weights_only=True)
        if saved.get("key") == key:
            return saved["means"]
    eot = int(session.tokenizer.convert_tokens_to_ids(EOT))
    acts = heldout_activations(session.model, load_streams(Path(tokens_dir) / "val.npz"),
                               SaeBuildSettings(eval_tokens_per_language=tokens_per_language), eot)
    means = language_specificity(session.sae, acts)
    torch.save({"key": key, "means": means}, cache)
    return means


def language_candidates(session, tokens_dir: Path, sae_dir: Path) -> dict[str, list[dict]]:
    from .steer_eval import rank_language_features

    means = language_means(session, tokens_dir, sae_dir)
    langs = sorted(means)
    return {lang: rank_language_features(means, lang, top=CANDIDATES) for lang in langs}


def build_pack_catalog(model_dir: Path, sae_dir: Path, corpus_dir: Path, tokens_dir: Path,
                       log: Log = print, catalog_tokens: int | None = 160_000) -> dict:
    from steerdesk.engine.catalog import build_catalog

    from . import pack_choices
    from .corpus import read_jsonl

    session = _session(model_dir, sae_dir)
    docs = [{"text": d.text, "language": d.language, "collection": d.collection}
            for d in read_jsonl(Path(corpus_dir) / "val.jsonl")]
    # the split is grouped by language: shuffle (reproducibly) so a token cap covers them all
    random.Random(0).shuffle(docs)
    start = time.monotonic()
    last = [0.0]

    def progress(fraction: float, message: str) -> None:
        if time.monotonic() - last[0] > 20:
            last[0] = time.monotonic()
            log(f"catalog {fraction:.0%}: {message}")

    catalog = build_catalog(session, docs, Path(sae_dir) / "catalog", context=128,
                            tokens=catalog_tokens, restart=True, progress=progress)
    seconds = time.monotonic() - start
    candidates = language_candidates(session, tokens_dir, sae_dir)
    hand: dict[int, str] = {}
    for lang, ranked in candidates.items():
        if ranked and lang != "en":
            hand[ranked[0]["index"]] = language_label(lang)
    fingerprint = sae_fingerprint(sae_dir)
    if fingerprint == pack_choices.SAE_FINGERPRINT:
        hand.update(pack_choices.HAND_LABELS)
    else:
        log(f"the SAE ({fingerprint}) is not the one pack_choices.HAND_LABELS were read from "
            f"({pack_choices.SAE_FINGERPRINT}): only the language features get hand labels; "
            "read the catalog and update pack_choices.py")
    catalog.write_source_labels("hand", hand, replace=True)
    info = {"seconds": round(seconds, 1), "documents": len(docs), "sae_fingerprint": fingerprint,
            "language_candidates": candidates, "hand_labels": {str(k): v for k, v in sorted(hand.items())}}
    (Path(sae_dir) / "catalog_build.json").write_text(json.dumps(info, indent=1, ensure_ascii=False)
                                                      + "\n", encoding="utf-8")
    log(f"catalog built in {seconds / 60:.1f} min; hand labels: {hand}")
    return info


def sweep_specs(candidates: dict[str, list[dict]], strengths) -> list[tuple[str, int, float]]:
    return [(lang, c["index"], s) for lang in (*TARGETS, TOPIC) for c in candidates.get(lang, [])
            for s in strengths]


def build_presets(model_dir: Path, sae_dir: Path, tokens_dir: Path, presets_dir: Path,
                  log: Log = print) -> dict:
    from steerdesk.engine.presets import Preset, PresetFeature, save_preset
    from steerdesk.engine.steering import FeatureSteer, SteeringSpec

    from .pack_choices import PROMPT_EQUIVALENTS

    from .steer_eval import (
        NEW_TOKENS,
        PROMPTS,
        STRENGTHS,
        SWEEP_SEEDS,
        TEMPERATURE,
        continuations,
        language_share,
        perplexity,
        rank_topic_features,
        topic_share,
    )

    session = _session(model_dir, sae_dir)
    start = time.monotonic()
    candidates = language_candidates(session, tokens_dir, sae_dir)
    if session.catalog is not None:
        candidates[TOPIC] = rank_topic_features(session.catalog)
    plan = sweep_specs(candidates, STRENGTHS)
    specs = [SteeringSpec([FeatureSteer(i, s)], unit="max") for _, i, s in plan]
    rows = continuations(session, specs, SWEEP_SEEDS)
    baseline = rows[0]
    results = []
    for (lang, index, strength), conts in zip(plan, rows[1:]):
        share = topic_share(conts) if lang == TOPIC else language_share(conts, lang)
        results.append({"language": lang, "index": index, "strength": strength,
                        "share": share, "perplexity": round(perplexity(session, conts), 1),
                        "example": conts[0].prompt + conts[0].text})
    base = {"perplexity": round(perplexity(session, baseline), 1),
            "shares": {lang: language_share(baseline, lang) for lang in ("en", *TARGETS)},
            "topic_share": topic_share(baseline),
            "example": baseline[0].prompt + baseline[0].text}
    chosen = {}
    for lang in (*TARGETS, TOPIC):
        mine = [r for r in results if r["language"] == lang]
        if not mine:
            continue
        target = TOPIC_SHARE if lang == TOPIC else TARGET_SHARE
        ok = [r for r in mine if r["share"] >= target]
        if lang == TOPIC and not ok:
            log(f"no computers feature reached {TOPIC_SHARE:.0%}: no topic preset")
            continue
        pick = (min(ok, key=lambda r: (r["strength"], r["perplexity"])) if ok
                else max(mine, key=lambda r: (r["share"], -r["strength"])))
        chosen[lang] = pick
    presets_dir = Path(presets_dir)
    presets_dir.mkdir(parents=True, exist_ok=True)
    for old in [*presets_dir.glob("speak-*.json"), *presets_dir.glob("talk-about-*.json")]:
        old.unlink()
    for lang, pick in chosen.items():
        if lang == TOPIC:
            preset = Preset(name="talk about computers", unit="max", description=(
                f"Adds feature {pick['index']} (computers) at {pick['strength']:g}x its max activation: "
                f"{pick['share']:.0%} of 20 sampled continuations of English prompts mention computer "
                f"words (unsteered: {base['topic_share']:.0%}); perplexity {pick['perplexity']:g} "
                "under the unsteered model."),
                features=[PresetFeature(pick["index"], pick["strength"], "add", "computers")])
            save_preset(preset, presets_dir / "talk-about-computers.json")
            continue
        name = f"speak {NAMES[lang]}"
        preset = Preset(name=name, unit="max", description=(
            f"Adds feature {pick['index']} ({language_label(lang)}) at {pick['strength']:g}x its max "
            f"activation: {pick['share']:.0%} of 20 sampled continuations of English prompts came out "
            f"in {NAMES[lang]} (perplexity {pick['perplexity']:g} under the unsteered model)."),
            features=[PresetFeature(pick["index"], pick["strength"], "add", language_label(lang))],
            prompt_equivalent=PROMPT_EQUIVALENTS.get(lang, ""))
        save_preset(preset, presets_dir / f"speak-{NAMES[lang].lower()}.json")
    sweep = {"rule": {"target_share": TARGET_SHARE, "topic_share": TOPIC_SHARE, "candidates_per_language": CANDIDATES,
                      "strengths_x_max": list(STRENGTHS), "seeds": list(SWEEP_SEEDS),
                      "prompts": list(PROMPTS), "temperature": TEMPERATURE, "new_tokens": NEW_TOKENS},
             "sae_fingerprint": sae_fingerprint(sae_dir),
             "candidates": candidates, "baseline": base, "results": results,
             "chosen": chosen, "seconds": round(time.monotonic() - start, 1)}
    (Path(sae_dir) / "steering_sweep.json").write_text(
        json.dumps(sweep, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if session.catalog is not None:
        # a preset's feature carries the preset's name for its language in the catalog too,
        # unless it was named by hand already
        hand = session.catalog.source_labels("hand")
        session.catalog.write_source_labels("hand", {
            pick["index"]: language_label(lang) for lang, pick in chosen.items()
            if lang != TOPIC and pick["index"] not in hand})
    sweep["test_seeds_check"] = check_presets(session, presets_dir)
    (Path(sae_dir) / "steering_sweep.json").write_text(
        json.dumps(sweep, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for lang, pick in chosen.items():
        log(f"{NAMES.get(lang, lang)}: feature {pick['index']} at {pick['strength']:g}x max, "
            f"share {pick['share']:.0%}, perplexity {pick['perplexity']}")
    return sweep


def check_presets(session, presets_dir: Path) -> dict:
    """What tests/pocket/test_language_steering.py checks, recorded: the shipped presets on the
    test seeds 0..19, all in one batch per seed, the share judged in each language."""
    from steerdesk.engine.presets import list_presets

    from .language_judge import judge
    from .steer_eval import TEST_SEEDS, continuations, perplexity

    by_lang = {lang: p for p, _ in list_presets(presets_dir) for lang in TARGETS
               if p.name == f"speak {NAMES[lang]}"}
    langs = list(by_lang)
    rows = continuations(session, [by_lang[lang].to_spec() for lang in langs], TEST_SEEDS)
    verdicts = {"baseline": [judge(c.text) for c in rows[0]]}
    out = {"seeds": list(TEST_SEEDS), "baseline": {lang: verdicts["baseline"].count(lang) / len(rows[0])
                                                   for lang in ("en", *langs)},
           "baseline_perplexity": round(perplexity(session, rows[0]), 1), "steered": {}}
    for lang, row in zip(langs, rows[1:]):
        v = [judge(c.text) for c in row]
        out["steered"][lang] = {"preset": by_lang[lang].name, "share": v.count(lang) / len(v),
                                "perplexity": round(perplexity(session, row), 1),
                                "example": row[1].prompt + row[1].text}
    return out


__all__ = ["build_pack_catalog", "build_presets", "check_presets", "language_candidates", "sae_fingerprint"]
