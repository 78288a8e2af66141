"""The corpus stage end to end on home-made .deb files: dpkg-deb only, never apt-get."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from steerdesk.pocket.corpus import FORTUNE_PACKAGES, build_corpus
from steerdesk.pocket.debs import DebError, download_deb, extract_deb

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")

ENTRIES = {
    "en": ["The early bird gets the worm.", "Work expands to fill the time."],
    "de": ["Wer zuletzt lacht, lacht am besten.", "Übung macht den Meister."],
    "es": ["Más vale tarde que nunca.", "El que madruga, Dios le ayuda."],
    "it": ["Chi va piano va sano.", "L'abito non fa il monaco."],
    "ru": ["Знание - сила.", "Тише едешь - дальше будешь."],
    "pl": ["Gdzie kucharek sześć, tam nie ma co jeść.", "Bez pracy nie ma kołaczy."],
}


def _make_deb(package: str, language: str, deb_dir: Path, tmp: Path) -> None:
    root = tmp / f"src-{package}"
    games = root / "usr" / "share" / "games" / "fortunes" / language
    games.mkdir(parents=True)
    text = "".join(f"{entry} ({package})\n%\n" for entry in ENTRIES[language])
    # The Russian collection in the old single-byte encoding, to exercise decoding.
    encoding = "koi8_r" if language == "ru" else "utf-8"
    (games / "wisdom").write_bytes(text.encode(encoding))
    (games / "wisdom.dat").write_bytes(b"\x00\x00\x00\x02")
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.org>\n"
        "Description: test\n"
    )
    deb = deb_dir / f"{package}_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], check=True, capture_output=True)


def test_build_corpus_from_cached_debs(tmp_path):
    deb_dir = tmp_path / "debs"
    deb_dir.mkdir()
    for package, language in FORTUNE_PACKAGES.items():
        _make_deb(package, language, deb_dir, tmp_path)

    stats = build_corpus(tmp_path / "corpus", deb_dir, tmp_path / "unpacked")

    lines = (tmp_path / "corpus" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    lines += (tmp_path / "corpus" / "val.jsonl").read_text(encoding="utf-8").splitlines()
    docs = [json.loads(line) for line in lines]
    assert len(docs) == 2 * len(FORTUNE_PACKAGES)
    assert {d["collection"] for d in docs} == {"wisdom"}
    assert "Знание - сила. (fortunes-ru)" in {d["text"] for d in docs if d["language"] == "ru"}
    assert set(stats["train"]) | set(stats["validation"]) == set(ENTRIES)


def test_download_deb_uses_the_cache_first(tmp_path):
    cached = tmp_path / "fortunes-de_0.35-1_all.deb"
    cached.write_bytes(b"!<arch>\n")
    assert download_deb("fortunes-de", tmp_path) == cached


def test_extract_deb_names_a_broken_file(tmp_path):
    broken = tmp_path / "broken_1.0_all.deb"
    broken.write_bytes(b"not a deb")
    with pytest.raises(DebError, match="broken_1.0_all.deb"):
        extract_deb(broken, tmp_path / "out")
