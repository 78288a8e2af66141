from pathlib import Path

import pytest

from steerdesk.pocket.fortune_format import (
    clean_entry,
    decode_fortune_bytes,
    is_fortune_file,
    read_fortune_file,
    split_entries,
)


def test_entries_split_on_percent_lines_only():
    text = "First entry\n\t\t-- Someone\n%\nSecond, 50% off\n% \n%%\nThird\n%\n"
    assert split_entries(text) == ["First entry\n\t\t-- Someone", "Second, 50% off", "Third"]


def test_empty_and_one_character_entries_are_dropped():
    assert split_entries("%\n\n%\nx\n%\nok\n") == ["ok"]


def test_crlf_and_trailing_spaces_are_normalised():
    assert split_entries("line one   \r\nline two\r\n%\r\nnext\r\n") == ["line one\nline two", "next"]


def test_overstrike_keeps_the_final_glyph_and_controls_go():
    assert clean_entry("_\bb_\bo_\bl_\bd and N\bNO\bO\x07") == "bold and NO"


def test_utf8_is_used_when_valid():
    assert decode_fortune_bytes("Größe".encode("utf-8"), "de") == "Größe"


@pytest.mark.parametrize("encoding", ["koi8_r", "cp1251"])
def test_legacy_russian_encodings_decode_to_cyrillic(encoding):
    text = "Знание - сила, а незнание - рабочая сила."
    assert decode_fortune_bytes(text.encode(encoding), "ru") == text


def test_polish_latin2_falls_back_correctly():
    text = "Zażółć gęślą jaźń"
    assert decode_fortune_bytes(text.encode("iso8859_2"), "pl") == text


def test_western_legacy_text_uses_cp1252():
    assert decode_fortune_bytes("¡Adiós, señor!".encode("cp1252"), "es") == "¡Adiós, señor!"


def test_index_files_and_symlinks_are_not_fortune_files(tmp_path: Path):
    (tmp_path / "work").write_text("a\n%\nb\n")
    (tmp_path / "work.dat").write_bytes(b"\x00\x00\x00\x02")
    (tmp_path / "work.u8").symlink_to(tmp_path / "work")
    (tmp_path / "alias").symlink_to(tmp_path / "work")
    assert [p.name for p in sorted(tmp_path.iterdir()) if is_fortune_file(p)] == ["work"]


def test_read_fortune_file_decodes_koi8(tmp_path: Path):
    path = tmp_path / "love"
    path.write_bytes("Любовь зла.\n%\nЖизнь - это борьба.\n%\n".encode("koi8_r"))
    assert read_fortune_file(path, "ru") == ["Любовь зла.", "Жизнь - это борьба."]
