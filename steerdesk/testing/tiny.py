"""Tiny random models and SAEs, built from a config and saved to a folder, so that the real
loading code runs in tests and benchmarks without any download.

    model_dir = make_model(tmp / "model", "llama", d=32, layers=2)
    sae_dir = make_sae(tmp / "sae", d_in=32, d_sae=64, arch="jumprelu")
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

TEXT = ("the quick brown fox jumps over the lazy dog. Der schnelle braune Fuchs springt. "
        "El zorro marron salta sobre el perro. hello world, steering models is fun! 0123456789")

FAMILIES = ("gpt2", "gpt_neox", "llama", "qwen2", "gemma2", "mistral")
SPECIAL = "<|endoftext|>"        # BOS = EOS = pad, prepended to every encoding


def train_tokenizer(text: str = TEXT, vocab_size: int = 300, pad_to: int | None = None):
    """A byte-level BPE tokenizer (BOS = EOS = pad = `<|endoftext|>`) trained on `text`.
    With `pad_to`, its vocabulary is filled up to exactly that size with filler tokens (plain
    ASCII strings), so that every id a model of that vocabulary can produce decodes."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[SPECIAL],
                                  show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([text] * 4, trainer)
    if pad_to is not None:
        data = json.loads(tok.to_str())
        vocab = data["model"]["vocab"]
        n = len(vocab)
        while n < pad_to:
            piece = f"~{n}"
            if piece not in vocab:
                vocab[piece] = n
                n += 1
        tok = Tokenizer.from_str(json.dumps(data))
    bos = tok.token_to_id(SPECIAL)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{SPECIAL} $A", pair=f"{SPECIAL} $A {SPECIAL} $B",
        special_tokens=[(SPECIAL, bos)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=SPECIAL, eos_token=SPECIAL,
                                   pad_token=SPECIAL)


def make_tokenizer(folder: Path):
    """`train_tokenizer()` on a sentence, saved to `folder`."""
    fast = train_tokenizer()
    fast.save_pretrained(folder)
    return fast


def make_config(family: str, vocab: int, d: int = 32, layers: int = 2, positions: int = 128):
    import transformers as tf

    common = dict(vocab_size=vocab, bos_token_id=0, eos_token_id=0, pad_token_id=0)
    if family == "gpt2":
        return tf.GPT2Config(n_embd=d, n_layer=layers, n_head=4, n_positions=positions, **common)
    if family == "gpt_neox":
        return tf.GPTNeoXConfig(hidden_size=d, num_hidden_layers=layers, num_attention_heads=4,
                                intermediate_size=2 * d, max_position_embeddings=positions,
                                **common)
    kw = dict(hidden_size=d, num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
              intermediate_size=2 * d, max_position_embeddings=positions, **common)
    if family == "llama":
        return tf.LlamaConfig(**kw)
    if family == "qwen2":
        return tf.Qwen2Config(**kw)
    if family == "mistral":
        return tf.MistralConfig(**kw)
    if family == "gemma2":
        return tf.Gemma2Config(head_dim=8, **kw)
    if family == "gemma3_text":
        return tf.Gemma3TextConfig(head_dim=8, sliding_window=16, **kw)
    raise ValueError(family)


def make_model(folder: Path, family: str = "llama", d: int = 32, layers: int = 2, seed: int = 0
               ) -> Path:
    from transformers import AutoModelForCausalLM

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tok = make_tokenizer(folder)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(make_config(family, len(tok), d, layers))
    # Random init is near-uniform; bigger weights give peaked distributions, so greedy
    # decoding and steering effects are not decided by ties.
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.mul_(4.0)
    model.save_pretrained(folder)
    return folder


def make_sae_tensors(d_in: int, d_sae: int, arch: str = "relu", seed: int = 1
                     ) -> dict[str, torch.Tensor]:
    """Random tensors of an SAE of `arch`, in SAELens orientation."""
    g = torch.Generator().manual_seed(seed)
    t = {"W_enc": torch.randn(d_in, d_sae, generator=g) / d_in ** 0.5,
         "W_dec": torch.randn(d_sae, d_in, generator=g) / d_sae ** 0.5,
         "b_enc": torch.randn(d_sae, generator=g) * 0.1,
         "b_dec": torch.randn(d_in, generator=g) * 0.1}
    if arch == "jumprelu":
        t["threshold"] = torch.rand(d_sae, generator=g) * 0.2
    if arch == "gated":
        t.pop("b_enc")
        t.update(b_gate=torch.randn(d_sae, generator=g) * 0.1,
                 b_mag=torch.randn(d_sae, generator=g) * 0.1,
                 r_mag=torch.randn(d_sae, generator=g) * 0.1)
    return t


def make_sae(folder: Path, d_in: int, d_sae: int = 64, arch: str = "relu",
             hook: str | None = "blocks.0.hook_resid_post", k: int | None = None, seed: int = 1
             ) -> Path:
    """A random SAE of `arch`, saved as a SAELens folder."""
    from steerdesk.engine.sae.base import SAE, SAEConfig
    from steerdesk.engine.sae.fmt_saelens import save_saelens

    cfg = SAEConfig(architecture=arch, d_in=d_in, d_sae=d_sae, k=k or (8 if arch == "topk" else None),
                    hook_name=hook)
    save_saelens(SAE(cfg, make_sae_tensors(d_in, d_sae, arch, seed)), folder)
    return Path(folder)
