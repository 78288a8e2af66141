from collections import Counter

import numpy as np
import pytest
from pocket_fixtures import tiny_documents

from steerdesk.pocket.token_streams import (
    BalancedWindowSampler,
    encode_by_language,
    fixed_windows,
    load_streams,
    save_streams,
)
from steerdesk.pocket.tokenizer import load_tokenizer


def test_streams_pack_documents_each_starting_with_eot(tiny_tokenizer_dir):
    tokenizer = load_tokenizer(tiny_tokenizer_dir)
    docs = tiny_documents()
    streams = encode_by_language(docs, tokenizer)
    assert sorted(streams) == ["de", "en", "ru"]
    for language, stream in streams.items():
        assert stream.dtype == np.uint16
        assert stream[0] == 0
        assert int((stream == 0).sum()) == sum(d.language == language for d in docs)


def test_streams_save_and_load(tmp_path):
    streams = {"en": np.arange(10, dtype=np.uint16), "ru": np.arange(5, dtype=np.uint16)}
    save_streams(streams, tmp_path / "train.npz")
    loaded = load_streams(tmp_path / "train.npz")
    assert {k: v.tolist() for k, v in loaded.items()} == {k: v.tolist() for k, v in streams.items()}


def test_load_streams_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="val.npz"):
        load_streams(tmp_path / "val.npz")


def test_sampler_balances_languages_regardless_of_size():
    streams = {"big": np.full(10_000, 1, dtype=np.uint16), "small": np.full(100, 2, dtype=np.uint16)}
    sampler = BalancedWindowSampler(streams, length=16, seed=0)
    batch = sampler.sample(2000)
    assert batch.shape == (2000, 16)
    counts = Counter(int(row[0]) for row in batch)
    assert abs(counts[1] - counts[2]) < 200


def test_sampler_is_reproducible_from_its_seed():
    streams = {"en": np.arange(1000, dtype=np.uint16)}
    a = BalancedWindowSampler(streams, 8, seed=3).sample(4)
    b = BalancedWindowSampler(streams, 8, seed=3).sample(4)
    assert a.equal(b)


def test_sampler_rejects_streams_shorter_than_a_window():
    with pytest.raises(ValueError, match="too short"):
        BalancedWindowSampler({"pl": np.zeros(8, dtype=np.uint16)}, length=8)


def test_fixed_windows_are_non_overlapping_and_capped():
    windows = fixed_windows(np.arange(100, dtype=np.uint16), length=10, max_windows=3)
    assert windows.tolist()[1] == list(range(10, 20))
    assert windows.shape == (3, 10)
    with pytest.raises(ValueError, match="no window"):
        fixed_windows(np.arange(5, dtype=np.uint16), length=10, max_windows=3)
