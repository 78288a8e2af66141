"""Models bigger than the GPU: the decision from memory numbers, and the split load path
(device_map="auto") forced on a CPU-only machine."""

from __future__ import annotations

import pytest
import torch

from steerdesk.engine import placement
from steerdesk.engine.errors import InputError
from steerdesk.engine.placement import Placement, decide, weights_bytes
from steerdesk.testing.tiny import make_model

GB = 10**9
CUDA = torch.device("cuda:0")


def test_fits_on_the_gpu_stays_whole():
    assert decide(5 * GB, CUDA, [24 * GB], 64 * GB) == Placement()
    assert decide(50 * GB, torch.device("cpu"), [], 8 * GB) == Placement()  # CPU: never split


def test_too_big_for_the_gpu_is_split_and_says_why():
    p = decide(16 * GB, CUDA, [12 * GB], 64 * GB)
    assert p.split and p.device_map == "auto"
    assert p.max_memory == {0: int(12 * GB * 0.9), "cpu": int(64 * GB * 0.9)}
    assert "16.0 GB" in p.why and "12.0 GB free" in p.why and "slower" in p.why
    two = decide(30 * GB, CUDA, [20 * GB, 20 * GB], 8 * GB)     # two GPUs share it
    assert two.split and set(two.max_memory) == {0, 1, "cpu"}


def test_too_big_for_the_machine_is_a_clear_error():
    with pytest.raises(InputError, match="need 64.0 GB.*12.0 GB of free GPU memory"):
        decide(64 * GB, CUDA, [12 * GB], 16 * GB)


def test_weights_bytes_rescales_the_stored_dtype(tmp_path):
    folder = make_model(tmp_path / "m", "llama", d=32, layers=2)
    on_disk = sum(f.stat().st_size for f in folder.glob("*.safetensors"))
    assert weights_bytes(folder, torch.float32) == on_disk        # saved in float32
    assert weights_bytes(folder, torch.bfloat16) == on_disk // 2


def test_split_load_path_generates(tmp_path, monkeypatch):
    from steerdesk.engine.generation import GenerationRequest, generate
    from steerdesk.engine.session import open_session
    from steerdesk.testing.tiny import make_sae

    folder = make_model(tmp_path / "m", "llama", d=32, layers=3)
    sae = make_sae(tmp_path / "sae", d_in=32, d_sae=48, hook="blocks.1.hook_resid_post")
    forced = Placement(split=True, device_map="auto", max_memory={"cpu": 2 * GB},
                       why="split: forced by the test")
    import transformers

    seen = []
    real = transformers.AutoModelForCausalLM.from_pretrained.__func__

    def spy(cls, *args, **kw):
        seen.append(kw)
        return real(cls, *args, **kw)

    monkeypatch.setattr(placement, "plan_placement", lambda *a: forced)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", classmethod(spy))
    session = open_session(folder, sae, device="cpu")
    assert seen[-1]["device_map"] == "auto" and seen[-1]["max_memory"] == {"cpu": 2 * GB}
    d = session.describe()["model"]
    assert d["split"] and d["placement"] == "split: forced by the test"
    monkeypatch.undo()
    whole = open_session(folder, sae, device="cpu")
    assert not whole.lm.split
    req = GenerationRequest("the quick", max_new_tokens=4)
    assert generate(session, req).rows[0].text == generate(whole, req).rows[0].text
