import json
from pathlib import Path

import pytest

from steerdesk.pocket.corpus import (
    Document,
    collection_name,
    corpus_stats,
    deduplicate,
    documents_from_tree,
    is_validation,
    read_jsonl,
    split,
    write_jsonl,
)


def _fake_package(root: Path) -> Path:
    games = root / "usr" / "share" / "games" / "fortunes" / "ru"
    (games / "off").mkdir(parents=True)
    (games / "science").write_bytes("Знание - сила.\n%\nНаука - кладбище гипотез.\n%\n".encode("koi8_r"))
    (games / "science.dat").write_bytes(b"\x00\x00\x00\x02\x00")
    (games / "science.u8").symlink_to(games / "science")
    (games / "love.fortunes").write_text("Любовь зла.\n%\n", encoding="utf-8")
    (games / "off" / "rude").write_text("Грубость.\n%\n", encoding="utf-8")
    (root / "usr" / "share" / "doc").mkdir(parents=True)
    (root / "usr" / "share" / "doc" / "README").write_text("not a fortune\n%\n")
    return root


def test_documents_are_tagged_with_language_collection_and_package(tmp_path):
    docs = list(documents_from_tree(_fake_package(tmp_path), "fortunes-ru", "ru"))
    assert sorted((d.collection, d.text) for d in docs) == [
        ("love", "Любовь зла."),
        ("science", "Знание - сила."),
        ("science", "Наука - кладбище гипотез."),
    ]
    assert {(d.language, d.package) for d in docs} == {("ru", "fortunes-ru")}


def test_collection_name_strips_the_fortunes_suffix():
    assert collection_name(Path("es/refranes.fortunes")) == "refranes"
    assert collection_name(Path("fortunes/work")) == "work"


def test_split_is_deterministic_and_about_five_percent():
    docs = [Document(f"fortune number {i}", "en", "work", "fortunes") for i in range(4000)]
    train_a, val_a = split(docs)
    train_b, val_b = split(list(reversed(docs)))
    assert {d.text for d in val_a} == {d.text for d in val_b}
    assert len(train_a) + len(val_a) == 4000
    assert 0.035 < len(val_a) / 4000 < 0.065


def test_split_depends_on_text_and_language_not_collection():
    a = Document("Same words", "de", "work", "fortunes-de")
    b = Document("Same words", "de", "love", "fortunes-de")
    assert is_validation(a) == is_validation(b)


def test_deduplicate_keeps_first_per_language():
    docs = [
        Document("x y", "en", "a", "p"),
        Document("x y", "en", "b", "p"),
        Document("x y", "de", "a", "p"),
    ]
    assert [(d.language, d.collection) for d in deduplicate(docs)] == [("en", "a"), ("de", "a")]


def test_jsonl_round_trip_keeps_unicode(tmp_path):
    docs = [Document("Жизнь\n\t\t-- Кто-то", "ru", "life", "fortunes-ru")]
    path = tmp_path / "train.jsonl"
    write_jsonl(docs, path)
    assert "Жизнь" in path.read_text(encoding="utf-8")
    assert read_jsonl(path) == docs


def test_read_jsonl_names_file_and_line_on_bad_input(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps({"text": "a", "language": "en", "collection": "c", "package": "p"}) + "\n{oops\n")
    with pytest.raises(ValueError, match=r"broken\.jsonl:2"):
        read_jsonl(path)


def test_corpus_stats_counts_per_language():
    train = [Document("abc", "en", "c", "p"), Document("де", "ru", "c", "p")]
    stats = corpus_stats(train, [])
    assert stats["train"] == {
        "en": {"documents": 1, "characters": 3},
        "ru": {"documents": 1, "characters": 2},
    }
    assert stats["validation"] == {}
