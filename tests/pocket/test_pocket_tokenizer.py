import json

import pytest
from pocket_fixtures import tiny_documents

from steerdesk.pocket.tokenizer import EOT, balanced_texts, load_tokenizer


def test_hf_tokenizer_prepends_bos_and_round_trips(tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    assert tok.bos_token == tok.eos_token == tok.pad_token == EOT
    assert tok.bos_token_id == tok.eos_token_id
    for text in ["Ein Computer ist auch nur ein Mensch.", "Знание - сила.", "Love, 100% - ok?"]:
        ids = tok(text).input_ids
        assert ids[0] == tok.bos_token_id
        assert tok.bos_token_id not in ids[1:]
        assert tok.decode(ids, skip_special_tokens=True) == text


def test_unseen_characters_still_round_trip_byte_level(tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    text = "日本語 ✓ ząb"
    assert tok.decode(tok(text).input_ids, skip_special_tokens=True) == text


def test_saved_files_load_with_older_transformers_layout(tiny_tokenizer_dir):
    config = json.loads((tiny_tokenizer_dir / "tokenizer_config.json").read_text())
    special = json.loads((tiny_tokenizer_dir / "special_tokens_map.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert special["eos_token"] == special["bos_token"] == EOT


def test_raw_tokenizer_adds_the_same_bos(tiny_tokenizer_dir):
    raw = load_tokenizer(tiny_tokenizer_dir)
    assert raw.encode("Hallo").ids[0] == raw.token_to_id(EOT) == 0


def test_load_tokenizer_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        load_tokenizer(tmp_path)


def test_balanced_texts_caps_each_language_at_the_smallest_total():
    docs = tiny_documents(repeat=3)
    docs = [d for d in docs if d.language != "ru"] + [d for d in docs if d.language == "ru"][:2]
    texts = list(balanced_texts(docs))
    ru_chars = sum(len(d.text) for d in docs if d.language == "ru")
    for language in ("en", "de"):
        chosen = [t for t in texts if t in {d.text for d in docs if d.language == language}]
        assert ru_chars <= sum(len(t) for t in chosen) < ru_chars + 100
