"""The pocket model's architecture: a small Llama, sized to train on a laptop CPU in under an hour."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelShape:
    vocab_size: int = 8192
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 8
    intermediate_size: int = 768
    context_length: int = 256

    def to_dict(self) -> dict:
        return asdict(self)


def llama_config(shape: ModelShape, eot_id: int):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=shape.vocab_size,
        hidden_size=shape.hidden_size,
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads,
        num_key_value_heads=shape.num_heads,
        intermediate_size=shape.intermediate_size,
        max_position_embeddings=shape.context_length,
        tie_word_embeddings=True,  # the embedding is a third of the parameters at this size
        bos_token_id=eot_id,
        eos_token_id=eot_id,
        pad_token_id=eot_id,
        rope_theta=10000.0,
    )


def build_model(shape: ModelShape, eot_id: int, seed: int = 0):
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(llama_config(shape, eot_id))


def count_parameters(model) -> int:
    """Unique parameters (tied embedding counted once)."""
    return sum(p.numel() for p in model.parameters())
