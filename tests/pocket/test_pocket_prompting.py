"""The pocket presets' prompt equivalents and the report's 'Steering against prompting' tables."""

import json

import pytest

from steerdesk.engine.pack import pocket_presets
from steerdesk.pocket import pack_choices
from steerdesk.pocket.language_judge import NAMES
from steerdesk.pocket.report import prompting_section


@pytest.mark.skipif(not pocket_presets().is_dir(), reason="the pocket presets are not built")
def test_shipped_presets_carry_the_chosen_prompt_equivalents():
    from steerdesk.engine.presets import list_presets

    presets = {p.name: p for p, _ in list_presets(pocket_presets())}
    for lang, text in pack_choices.PROMPT_EQUIVALENTS.items():
        assert presets[f"speak {NAMES[lang]}"].prompt_equivalent == text
    # each chosen one is the best of its language's trials (ties: listed later, lower perplexity)
    for lang, text in pack_choices.PROMPT_EQUIVALENTS.items():
        mine = [(int(r.split("/")[0]), t) for la, t, r in pack_choices.PROMPT_EQUIVALENT_TRIALS
                if la == lang]
        assert max(n for n, _ in mine) == dict((t, n) for n, t in mine)[text]


def test_report_tables_come_from_the_evaluate_record(tmp_path):
    cols = [{"column": "baseline", "name": "baseline", "samples": 24, "reached": 0.0,
             "perplexity_mean": 120.04, "perplexity_median": 110.0},
            {"column": "steered", "name": "speak German", "samples": 24, "reached": 23 / 24,
             "perplexity_mean": 1800.26, "perplexity_median": 1700.0},
            {"column": "prompted", "name": "prompted: Auf Deutsch:", "samples": 24,
             "reached": 0.5, "perplexity_mean": 150.0, "perplexity_median": 140.56}]
    run = {"settings": {"preset": "speak German", "prompted": "Auf Deutsch:", "prompts": 8,
                        "seeds": [0, 1, 2], "max_new_tokens": 28, "temperature": 0.9},
           "columns": cols, "command": "steerdesk evaluate --preset \"speak German\" ...",
           "examples": {"prompted": {"prompt": "The city", "text": " und die"}}}
    (tmp_path / "sae").mkdir()
    (tmp_path / "sae" / "prompting_eval.json").write_text(json.dumps(
        {"date": "2026-12-03", "machine": "a box", "minutes": 3.5, "runs": [run]}))
    text = "\n".join(prompting_section(tmp_path))
    assert "### speak German" in text
    assert "| steered (the preset) | 96% (23/24) | 1800.3 | 1700.0 |" in text
    assert '| prompted: "Auf Deutsch:" | 50% (12/24) | 150.0 | 140.6 |' in text
    assert "| baseline | 0% (0/24) | 120.0 | 110.0 |" in text
    assert "Measured 2026-12-03 on a box, 3.5 minutes" in text
    assert text.index("steered (the preset)") < text.index("prompted:") < text.index("| baseline")
    assert prompting_section(tmp_path / "nothing") == []
