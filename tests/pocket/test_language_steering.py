"""Causal effect of the shipped pocket pack's language presets.

20 seeded continuations (seeds 0..19) of English prompts, each seed one batch of baseline +
the four "speak X" presets. Unsteered, fewer than 10% come out in each target language;
steered by a preset, at least 80% do. (The presets' strengths were picked on seeds 100..119.)
"""

from __future__ import annotations

import pytest

from steerdesk.engine.pack import (
    pocket_available,
    pocket_model,
    pocket_presets,
    pocket_sae,
)
from steerdesk.pocket.language_judge import judge

pytestmark = pytest.mark.skipif(not pocket_available() or not pocket_presets().is_dir(),
                                reason="the pocket pack (model + SAE + presets) is not built")

TARGETS = {"de": "speak German", "ru": "speak Russian", "es": "speak Spanish", "pl": "speak Polish"}


@pytest.fixture(scope="module")
def runs():
    from steerdesk.engine.presets import find_preset
    from steerdesk.engine.session import open_session
    from steerdesk.pocket.steer_eval import TEST_SEEDS, continuations

    session = open_session(pocket_model(), pocket_sae(), device="cpu", dtype="float32")
    specs = [find_preset(name, pocket_presets()).to_spec() for name in TARGETS.values()]
    rows = continuations(session, specs, TEST_SEEDS)
    return {"baseline": [judge(c.text) for c in rows[0]],
            **{lang: [judge(c.text) for c in row] for lang, row in zip(TARGETS, rows[1:])},
            "texts": rows}


@pytest.mark.parametrize("lang", sorted(TARGETS))
def test_unsteered_continuations_are_rarely_in_the_target_language(runs, lang):
    assert len(runs["baseline"]) == 20
    assert runs["baseline"].count(lang) / 20 < 0.10, runs["baseline"]


@pytest.mark.parametrize("lang", sorted(TARGETS))
def test_preset_steers_into_its_language(runs, lang):
    shares = runs[lang]
    assert len(shares) == 20
    texts = [c.text for c in runs["texts"][1 + list(TARGETS).index(lang)]]
    assert shares.count(lang) / 20 >= 0.80, (shares, texts[:5])
