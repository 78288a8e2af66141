"""The language judge and the rule that picks a language's feature (no pack needed)."""

from __future__ import annotations

import torch

from steerdesk.pocket.language_judge import judge
from steerdesk.pocket.steer_eval import about_computers, rank_language_features


def test_judge_reads_each_language():
    assert judge("the cat is on the mat and it is happy") == "en"
    assert judge("Der Hund ist nicht in dem Haus, und ich auch nicht") == "de"
    assert judge("El perro no está en la casa y yo tampoco") == "es"
    assert judge("Il cane non è nella casa e io sono con lui") == "it"
    assert judge("Pies nie jest w domu, a ja się tak nie czuję") == "pl"
    assert judge("Собака не дома, и я тоже") == "ru"
    assert judge("12345 !!!") == "unknown"


def test_computer_words():
    assert about_computers("My Unix box crashed again")
    assert not about_computers("The meaning of life is love")


def test_rank_language_features_prefers_pure_and_strong():
    means = {lang: torch.zeros(5) for lang in ("de", "en", "es")}
    means["de"][0] = 2.0   # pure German, strong
    means["de"][1] = 5.0   # strong but just as strong in English: impure
    means["en"][1] = 5.0
    means["de"][2] = 0.5   # pure, weak
    ranked = rank_language_features(means, "de", top=3)
    assert [r["index"] for r in ranked] == [0, 2]
    assert ranked[0]["purity"] == 1.0
