"""The models the benchmark times, each with an SAE, opened as an engine `Session`.

- "pocket": the pocket pack shipped with steerdesk, loaded through the engine's own loaders;
  while only its model is installed, that model with a random SAE of the pack SAE's shape
  (TopK 2048 x k=24 at blocks.2.hook_resid_post); before that, a randomly initialised model of
  the same shape (Llama, hidden 256, 4 layers, vocab 8192).
- "gpt2-small": a randomly initialised GPT-2 small (GPT2Config defaults, 124M parameters,
  vocab 50257) with a random ReLU SAE 768 x 24576 at blocks.6.hook_resid_post.
- "llama-3.2-1b": a randomly initialised model of Llama 3.2 1B's shape (hidden 2048, 16 layers,
  32 heads, 8 key/value heads, intermediate 8192, vocab 128256, tied embeddings) with a random
  TopK SAE 2048 x 16384 (k=64) at blocks.8.hook_resid_post.
- "tiny": a 2-layer Llama with hidden 32 (for the tests).

Random models are built in memory and wrapped in the engine's `LoadedModel` (no files are
written: saving and re-reading 5 GB of random weights would only time the disk). Random weights
time the work as well as trained ones do: the same matrices are multiplied. Their tokenizer is a
byte-level BPE trained on a paragraph of text here and padded with filler tokens to the model's
vocabulary, so every id the model can produce decodes to something.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

MODELS = ("pocket", "gpt2-small", "llama-3.2-1b")
ALL_MODELS = MODELS + ("tiny",)

TEXT = (
    "The lighthouse keeper climbed the spiral stairs every evening at dusk, carrying a lamp "
    "and a notebook in which he wrote down the weather, the ships that passed and the birds "
    "that rested on the railing. In winter the sea was grey and loud; in summer it was so calm "
    "that he could hear the fishermen talking in their boats far below. He had kept the light "
    "for thirty years, and in all that time no ship had run aground on the rocks beneath it. "
    "People in the village said that he knew the sea better than anyone alive, that he could "
    "tell a storm was coming two days before the sky changed, and that he spoke to the gulls. "
    "He laughed when he heard this, but he never said it was untrue. One autumn a young woman "
    "arrived with a letter from the harbour office: the light was to be automated, and the "
    "keeper would no longer be needed. She had come to learn how the lamp worked, so that she "
    "could write the instructions for the engineers who would replace it with a machine. "
    "For three weeks she followed him up and down the stairs, asking questions and filling her "
    "own notebook with diagrams, numbers and the names of the winds. 0123456789, 3.14159!"
)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    sae_width: int
    sae_arch: str
    sae_k: int | None
    hook: str


SPECS = {
    "pocket": ModelSpec("pocket", "llama", 2048, "topk", 24, "blocks.2.hook_resid_post"),
    "gpt2-small": ModelSpec("gpt2-small", "gpt2", 24576, "relu", None, "blocks.6.hook_resid_post"),
    "llama-3.2-1b": ModelSpec("llama-3.2-1b", "llama", 16384, "topk", 64,
                              "blocks.8.hook_resid_post"),
    "tiny": ModelSpec("tiny", "llama", 64, "relu", None, "blocks.0.hook_resid_post"),
}


def model_config(name: str, eos_id: int = 0):
    """The transformers config of a random model of `name`'s shape."""
    import transformers as tf

    ids = dict(bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id)
    if name == "gpt2-small":
        return tf.GPT2Config(**ids)  # defaults: n_embd 768, 12 layers, 12 heads, vocab 50257
    if name == "llama-3.2-1b":
        return tf.LlamaConfig(vocab_size=128256, hidden_size=2048, num_hidden_layers=16,
                              num_attention_heads=32, num_key_value_heads=8,
                              intermediate_size=8192, max_position_embeddings=4096,
                              tie_word_embeddings=True, rms_norm_eps=1e-5, **ids)
    if name == "pocket":
        from steerdesk.pocket.model_shape import ModelShape, llama_config

        return llama_config(ModelShape(), eos_id)
    if name == "tiny":
        return tf.LlamaConfig(vocab_size=512, hidden_size=32, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, intermediate_size=64,
                              max_position_embeddings=256, **ids)
    raise ValueError(f"unknown benchmark model {name!r}; choose from {', '.join(ALL_MODELS)}")


def make_tokenizer(vocab_size: int, trained: int = 1024):
    """A byte-level BPE tokenizer (BOS = EOS = `<|endoftext|>`, prepended to every encoding)
    trained on TEXT, its vocabulary padded with filler tokens to exactly `vocab_size`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=min(trained, vocab_size),
                                  special_tokens=["<|endoftext|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([TEXT] * 4, trainer)
    data = json.loads(tok.to_str())
    vocab = data["model"]["vocab"]
    n = len(vocab)
    while n < vocab_size:  # filler tokens: plain ASCII strings, which byte-level decodes as is
        piece = f"~{n}"
        if piece not in vocab:
            vocab[piece] = n
            n += 1
    tok = Tokenizer.from_str(json.dumps(data))
    bos = tok.token_to_id("<|endoftext|>")
    tok.post_processor = processors.TemplateProcessing(
        single="<|endoftext|> $A", pair="<|endoftext|> $A <|endoftext|> $B",
        special_tokens=[("<|endoftext|>", bos)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>",
                                   eos_token="<|endoftext|>", pad_token="<|endoftext|>")


def random_sae_tensors(d_in: int, d_sae: int, arch: str, seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    t = {"W_enc": torch.randn(d_in, d_sae, generator=g) / d_in ** 0.5,
         "W_dec": torch.randn(d_sae, d_in, generator=g) / d_in ** 0.5,
         "b_enc": torch.randn(d_sae, generator=g) * 0.1 - 0.2,
         "b_dec": torch.randn(d_in, generator=g) * 0.1}
    if arch == "jumprelu":
        t["threshold"] = torch.rand(d_sae, generator=g) * 0.2
    return t


def random_sae(spec: ModelSpec, d_in: int, seed: int = 1):
    from steerdesk.engine.sae.base import SAE, SAEConfig

    cfg = SAEConfig(architecture=spec.sae_arch, d_in=d_in, d_sae=spec.sae_width, k=spec.sae_k,
                    hook_name=spec.hook, source_format="random")
    return SAE(cfg, random_sae_tensors(d_in, spec.sae_width, spec.sae_arch, seed))


def _random_model(name: str, device: torch.device, dtype: torch.dtype, seed: int):
    from transformers import AutoModelForCausalLM

    cfg = model_config(name)
    tok = make_tokenizer(cfg.vocab_size)
    eos = tok.eos_token_id
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        setattr(cfg, key, eos)
    from transformers.initialization import no_init_weights

    with no_init_weights():  # transformers' own init of 1B weights takes minutes on one core
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    model.tie_weights()  # no_init_weights skips the tying too
    fast_random_init_(model, seed)
    model.to(device=device, dtype=dtype)
    model.eval()
    model.requires_grad_(False)
    gc = model.generation_config
    gc.bos_token_id = gc.eos_token_id = gc.pad_token_id = eos
    return model, tok


def fast_random_init_(model: torch.nn.Module, seed: int = 0, std: float = 0.02) -> None:
    """Matrices: N(0, std) values, cut at varying offsets from one 8M-value random block
    (drawing 1B fresh normals would take half a minute; copying takes a second). Vectors:
    norm weights 1, biases 0. The values do not change what is computed, only with what."""
    g = torch.Generator().manual_seed(seed)
    largest = max(p.numel() for p in model.parameters())
    block = torch.randn(min(1 << 23, 2 * largest), generator=g) * std
    half = block.numel() // 2
    step = 0
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.fill_(1.0 if name.endswith("weight") else 0.0)
                continue
            flat = p.view(-1)
            for start in range(0, flat.numel(), half):
                n = min(half, flat.numel() - start)
                off = (step * 1_000_003) % half
                flat[start:start + n].copy_(block[off:off + n])
                step += 1


def open_bench_session(name: str, device: str = "cpu", dtype: str = "float32", seed: int = 0):
    """(session, description): the model `name` with its SAE, on `device` in `dtype`.
    The pocket model is the real pack when it is installed, else a random stand-in."""
    from steerdesk.engine.device import resolve_device, resolve_dtype
    from steerdesk.engine.models import LoadedModel
    from steerdesk.engine.pack import pocket_available, pocket_model, pocket_sae
    from steerdesk.engine.session import attach_sae, open_session

    if name not in SPECS:
        raise ValueError(f"unknown benchmark model {name!r}; choose from {', '.join(ALL_MODELS)}")
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    spec = SPECS[name]
    if name == "pocket" and pocket_available():
        session = open_session(pocket_model(), pocket_sae(), device=str(dev), dtype=str(dt).replace("torch.", ""))
        how = f"pocket pack ({pocket_model()}), loaded with steerdesk's loader"
        return session, how
    if name == "pocket" and (pocket_model() / "config.json").is_file():
        from steerdesk.engine.models import load_model

        lm = load_model(pocket_model(), device=str(dev), dtype=str(dt).replace("torch.", ""))
        session = attach_sae(lm, random_sae(spec, lm.d_model), hook=spec.hook)
        how = ("pocket pack's model, loaded with steerdesk's loader, with a random SAE of the "
               "pocket SAE's shape (the pack's SAE is not installed yet)")
        return session, how
    model, tok = _random_model(name, dev, dt, seed)
    lm = LoadedModel(model=model, tokenizer=tok, name=f"random {name}", path=Path("<memory>"),
                     device=dev, dtype=dt)
    session = attach_sae(lm, random_sae(spec, lm.d_model), hook=spec.hook)
    what = ("random stand-in of the pocket model's shape (the pocket pack is not installed)"
            if name == "pocket" else f"randomly initialised {name}-shaped model")
    how = f"{what}, built in memory and wrapped in LoadedModel"
    return session, how


def weight_bytes(module: torch.nn.Module) -> int:
    """Bytes of parameters and buffers, each tensor counted once (tied embeddings once)."""
    seen: set[int] = set()
    total = 0
    for t in list(module.parameters()) + list(module.buffers()):
        key = t.data_ptr()
        if key in seen:
            continue
        seen.add(key)
        total += t.numel() * t.element_size()
    return total
