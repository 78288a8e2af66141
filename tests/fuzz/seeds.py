"""Valid files of every kind steerdesk reads, built small from their formats' definitions: the
seeds the fuzzer mutates. Each builder writes into `folder` and returns the path a user would
point steerdesk at."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

D_IN, D_SAE = 8, 24


def _t(gen: torch.Generator, *shape: int, scale: float = 0.3) -> torch.Tensor:
    return torch.randn(*shape, generator=gen) * scale


def saelens(folder: Path, gen: torch.Generator, arch: str = "standard") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    t = {"W_enc": _t(gen, D_IN, D_SAE), "W_dec": _t(gen, D_SAE, D_IN), "b_dec": _t(gen, D_IN)}
    if arch == "gated":
        t.update(b_gate=_t(gen, D_SAE), b_mag=_t(gen, D_SAE), r_mag=_t(gen, D_SAE))
    else:
        t["b_enc"] = _t(gen, D_SAE)
    if arch == "jumprelu":
        t["threshold"] = torch.rand(D_SAE, generator=gen) * 0.1
    save_file(t, str(folder / "sae_weights.safetensors"))
    save_file({"sparsity": torch.full((D_SAE,), -2.0)}, str(folder / "sparsity.safetensors"))
    cfg = {"architecture": arch, "d_in": D_IN, "d_sae": D_SAE, "dtype": "float32",
           "apply_b_dec_to_input": True, "normalize_activations": "none",
           "metadata": {"model_name": "tiny", "hook_name": "blocks.0.hook_resid_post",
                        "hook_head_index": None, "prepend_bos": True, "context_size": 128,
                        "neuronpedia_id": None}}
    if arch == "topk":
        cfg["k"] = 4
    (folder / "cfg.json").write_text(json.dumps(cfg))
    return folder


def gemmascope(folder: Path, gen: torch.Generator) -> Path:
    folder = folder / "layer_0" / "width_16k" / "average_l0_5"
    folder.mkdir(parents=True, exist_ok=True)
    p = {"W_enc": _t(gen, D_IN, D_SAE), "W_dec": _t(gen, D_SAE, D_IN), "b_enc": _t(gen, D_SAE),
         "b_dec": _t(gen, D_IN), "threshold": torch.rand(D_SAE, generator=gen) * 0.1}
    np.savez(folder / "params.npz", **{k: v.numpy() for k, v in p.items()})
    return folder


def gemmascope2(folder: Path, gen: torch.Generator) -> Path:
    folder = folder / "resid_post" / "layer_0_width_16k_l0_small"
    folder.mkdir(parents=True, exist_ok=True)
    p = {"w_enc": _t(gen, D_IN, D_SAE), "w_dec": _t(gen, D_SAE, D_IN), "b_enc": _t(gen, D_SAE),
         "b_dec": _t(gen, D_IN), "threshold": torch.rand(D_SAE, generator=gen) * 0.1}
    save_file(p, str(folder / "params.safetensors"))
    (folder / "config.json").write_text(json.dumps({"architecture": "jump_relu",
                                                    "hf_hook_point_in": "model.layers.0.output"}))
    return folder


def sparsify(folder: Path, gen: torch.Generator) -> Path:
    folder = folder / "layers.0"
    folder.mkdir(parents=True, exist_ok=True)
    t = {"encoder.weight": _t(gen, D_SAE, D_IN), "encoder.bias": _t(gen, D_SAE),
         "W_dec": _t(gen, D_SAE, D_IN), "b_dec": _t(gen, D_IN)}
    save_file(t, str(folder / "sae.safetensors"))
    (folder / "cfg.json").write_text(json.dumps({"expansion_factor": 3, "normalize_decoder": True,
                                                 "num_latents": D_SAE, "k": 4, "d_in": D_IN}))
    return folder


def dictionary_learning(folder: Path, gen: torch.Generator) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    sd = {"bias": _t(gen, D_IN), "encoder.weight": _t(gen, D_SAE, D_IN),
          "encoder.bias": _t(gen, D_SAE), "decoder.weight": _t(gen, D_IN, D_SAE)}
    torch.save(sd, folder / "ae.pt")
    cfg = {"trainer": {"dict_class": "AutoEncoder", "activation_dim": D_IN, "dict_size": D_SAE,
                       "layer": 0, "lm_name": "tiny", "submodule_name": "resid_post_layer_0"}}
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def openai(folder: Path, gen: torch.Generator) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    sd = {"pre_bias": _t(gen, D_IN), "encoder.weight": _t(gen, D_SAE, D_IN),
          "latent_bias": _t(gen, D_SAE), "decoder.weight": _t(gen, D_IN, D_SAE),
          "activation": "TopK", "activation_state_dict": {"k": 4}}
    path = folder / "0.pt"
    torch.save(sd, path)
    return path


def llamascope(folder: Path, gen: torch.Generator) -> Path:
    (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
    t = {"encoder.weight": _t(gen, D_SAE, D_IN), "encoder.bias": _t(gen, D_SAE),
         "decoder.weight": _t(gen, D_IN, D_SAE), "decoder.bias": _t(gen, D_IN)}
    save_file(t, str(folder / "checkpoints" / "final.safetensors"))
    hp = {"d_model": D_IN, "d_sae": D_SAE, "hook_point_in": "blocks.0.hook_resid_post",
          "hook_point_out": "blocks.0.hook_resid_post", "use_decoder_bias": True,
          "apply_decoder_bias_to_pre_encoder": False, "act_fn": "jumprelu",
          "jump_relu_threshold": 0.05, "norm_activation": "dataset-wise",
          "dataset_average_activation_norm": {"in": 3.0, "out": 3.0},
          "sparsity_include_decoder_norm": True, "top_k": 4}
    (folder / "hyperparams.json").write_text(json.dumps(hp))
    return folder


def preset(folder: Path, gen: torch.Generator) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "preset.json"
    path.write_text(json.dumps({"steerdesk_preset": 1, "name": "speak German",
                                "description": "a test", "unit": "raw",
                                "features": [{"index": 3, "label": "German", "mode": "add",
                                              "strength": 1.5},
                                             {"index": 7, "label": "", "mode": "ablate",
                                              "strength": 0.0, "enabled": False}],
                                # the later fields, so their readers meet mutants too
                                "rules": ["when 12>3.5 then 40=8 for 5",
                                          'when text /br[iy]dge/ then stop'],
                                "vectors": [{"name": "formal", "strength": 2.0,
                                             "direction": [0.5, -1.0, 0.25, 2.0],
                                             "typical": 1.5, "hook": "blocks.1.hook_resid_post",
                                             "model": "tiny", "d_model": 4,
                                             "n_tokens": [3, 4]}],
                                "prompt_equivalent": "Auf Deutsch:"}))
    return path


def labels_jsonl(folder: Path, gen: torch.Generator) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "explanations.jsonl"
    rows = [{"modelId": "tiny", "layer": "0-res", "index": str(i),
             "description": f"label {i}", "score": 0.1 * i} for i in range(0, D_SAE, 3)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def labels_json_gz(folder: Path, gen: torch.Generator) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "batch-0.json.gz"
    rows = [{"index": i, "explanation": f"gz label {i}"} for i in range(5)]
    path.write_bytes(gzip.compress(json.dumps(rows).encode()))
    return path


def labels_csv(folder: Path, gen: torch.Generator) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "labels.csv"
    path.write_text("index,label\n" + "".join(f"{i},csv label {i}\n" for i in range(6)))
    return path


def corpus_jsonl(folder: Path, gen: torch.Generator) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "corpus.jsonl"
    path.write_text("".join(json.dumps({"text": f"document {i} text", "lang": "en"}) + "\n"
                            for i in range(4)) + json.dumps("a bare string") + "\n")
    return path


def corpus_txt(folder: Path, gen: torch.Generator) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "texts.txt"
    path.write_text("first text\n\nsecond text\nthird text\n")
    return path


def settings(folder: Path, gen: torch.Generator) -> Path:
    """A full settings.json as the app writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "settings.json"
    path.write_text(json.dumps({
        "zoom": 1.3, "presentation": False, "compiled": True, "geometry": "AdnQywADAAAAAAAA",
        "recent": [{"model": "/m", "sae": "/s", "hook": None, "device": "auto",
                    "dtype": "auto"}],
        "last": {"prompt": "The meaning of life is",
                 "sampling": {"max_new_tokens": 48, "temperature": 0.9, "top_p": 1.0,
                              "seed": 7, "chat": False},
                 "panel": {"name": "mine", "unit": "max", "description": "",
                           "features": [{"index": 3, "label": "x", "mode": "add",
                                         "strength": 1.5}]},
                 "pair": {"model": "/m", "sae": "/s", "hook": None, "device": "auto",
                          "dtype": "auto"}}}))
    return path
