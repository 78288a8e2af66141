"""Tiny multilingual documents for the pocket pipeline tests (imported by name: unique module)."""

from __future__ import annotations

from steerdesk.pocket.corpus import Document

TINY_TEXTS = {
    "en": [
        "A fool and his money are soon parted.",
        "The early bird catches the worm, but the second mouse gets the cheese.",
        "Computers are useless. They can only give you answers.",
        "Love is a game that two can play and both win.",
    ],
    "de": [
        "Wer zuletzt lacht, hat es nicht eher begriffen.",
        "Das Leben ist kein Ponyhof, aber die Ponys sind nett.",
        "Ein Computer ist auch nur ein Mensch.",
        "Morgenstund hat Gold im Mund, aber Blei im Hintern.",
    ],
    "ru": [
        "Знание - сила.",
        "Наука - это кладбище гипотез.",
        "Любовь - это когда хочется жить вместе.",
        "Жизнь прекрасна, если не думать о понедельнике.",
    ],
}


def tiny_documents(repeat: int = 1) -> list[Document]:
    docs = []
    for language, texts in TINY_TEXTS.items():
        for i in range(repeat):
            for j, text in enumerate(texts):
                suffix = f" ({i})" if repeat > 1 else ""
                docs.append(Document(text + suffix, language, f"coll{j % 2}", f"fortunes-{language}"))
    return docs
