import json

import pytest
import torch

from steerdesk.engine.errors import InputError, RemoteCodeRefused
from steerdesk.engine.hooks import hooked_width, resolve_hook
from steerdesk.engine.models import load_model
from steerdesk.testing.tiny import FAMILIES, make_model


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_loads_from_a_folder_and_hooks_resolve(tmp_path, family):
    folder = make_model(tmp_path / family, family, d=32, layers=2)
    steps = []
    lm = load_model(folder, device="cpu", progress=lambda f, m: steps.append(f))
    assert lm.device.type == "cpu" and lm.dtype == torch.float32  # auto dtype on CPU
    assert steps[0] == 0.0 and steps[-1] == 1.0 and steps == sorted(steps)
    assert lm.model.config.model_type == family
    for name in ("blocks.0.hook_resid_pre", "blocks.1.hook_resid_post", "layers.1",
                 "blocks.1.hook_mlp_out", "blocks.0.hook_attn_out"):
        assert hooked_width(lm.model, resolve_hook(lm.model, name)) == 32


def test_dtype_override(tmp_path):
    lm = load_model(make_model(tmp_path, "llama"), device="cpu", dtype="bfloat16")
    assert next(lm.model.parameters()).dtype == torch.bfloat16


def test_missing_model_names_the_path(tmp_path):
    with pytest.raises(InputError, match="not a folder, and not in the local Hugging Face cache"):
        load_model(str(tmp_path / "nope"))


def test_folder_without_config(tmp_path):
    with pytest.raises(InputError, match="no config.json"):
        load_model(tmp_path)


def test_remote_code_is_refused_without_the_flag(tmp_path):
    folder = make_model(tmp_path, "llama")
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(model_type="my_custom_lm", auto_map={"AutoModelForCausalLM": "modeling_x.X"})
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(RemoteCodeRefused, match="its own repository"):
        load_model(folder)


def test_bad_device_name():
    from steerdesk.engine.device import resolve_device

    with pytest.raises(InputError, match="device 'quantum': not a device name") as err:
        resolve_device("quantum")
    assert err.value.field == "device" and "--device" in err.value.for_cli()
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA GPU"):
            resolve_device("cuda")
