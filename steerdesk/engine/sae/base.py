"""One SAE class for every file format.

Each loader (one file per format, beside this one) reads its files and returns an `SAE` whose
tensors are in SAELens orientation: `W_enc [d_in, d_sae]`, `W_dec [d_sae, d_in]`,
`b_enc [d_sae]`, `b_dec [d_in]`. Encoding is

    x' = normalise(x)                        # none, a constant scale, or a per-token layer norm
    x' = x' - b_dec  if apply_b_dec_to_input
    pre = x' @ W_enc + b_enc
    acts = relu(pre)                         # "relu" (SAELens "standard")
         | relu(pre) * (pre > threshold)     # "jumprelu"
         | top-k of relu(pre)                # "topk"
         | (x' @ W_enc + b_gate > 0) * relu(x' @ (W_enc * exp(r_mag)) + b_mag)   # "gated"

(one object per architecture, in architectures.py), and decoding is
`denormalise(acts @ W_dec + b_dec) (+ x @ W_skip)`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from steerdesk.engine.errors import InputError
from steerdesk.engine.sae.architectures import Architecture, architecture

NORMALISATIONS = ("none", "scale", "constant_norm_rescale", "layer_norm", "centre")
LAYER_NORM_EPS = 1e-5
# No trained SAE has weights near this; values beyond it are corruption, and would overflow
# to Inf in the first matrix product (float32 and bfloat16 end at 3.4e38).
MAX_ABS_WEIGHT = 1e8


@dataclass
class SAEConfig:
    architecture: str                  # the name; SAE.arch is the object that encodes
    d_in: int
    d_sae: int
    k: int | None = None
    apply_b_dec_to_input: bool = True
    # "none"; "scale": x * input_scale (Llama Scope, folded SAELens norm factors);
    # "constant_norm_rescale": x * sqrt(d_in) / |x| per token; "layer_norm": per-token
    # (x - mu) / (std + 1e-5); "centre": x - mu per token, the residual stream of a model whose
    # writing weights were mean-centred (TransformerLens center_writing_weights; see
    # docs/real-models.md).
    normalize_activations: str = "none"
    input_scale: float = 1.0
    hook_name: str | None = None
    hook_head_index: int | None = None
    model_name: str | None = None
    prepend_bos: bool = True
    context_size: int | None = None
    neuronpedia_id: str | None = None
    source_format: str = "saelens"
    source_path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def whole(value: Any) -> Any:
    """A whole-number float (16.0, from JSON or a tensor) as an int; anything else unchanged,
    for the config check to name."""
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    return value


def _check_config(cfg: SAEConfig, where: str) -> None:
    """Config values of the right type and range, whatever file format they came from."""
    for key in ("d_in", "d_sae"):
        value = getattr(cfg, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{where}: {key} is {value!r}; it must be a whole number >= 1")
    for key in ("hook_name", "model_name", "neuronpedia_id"):
        value = getattr(cfg, key)
        if value is not None and not isinstance(value, str):
            raise InputError(f"{where}: {key} is {value!r:.40}; it must be text")
    scale = cfg.input_scale
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) \
            or not math.isfinite(scale) or not scale > 0:
        raise InputError(f"{where}: the input scale is {scale!r}; it must be a finite number "
                         "above 0")


class NormState:
    """What `denormalise` needs to undo the input normalisation of one batch of vectors."""

    __slots__ = ("scale", "shift")

    def __init__(self, scale: torch.Tensor | float, shift: torch.Tensor | float = 0.0):
        self.scale = scale  # model-space = sae-space * scale + shift
        self.shift = shift


class SAE(torch.nn.Module):
    def __init__(self, cfg: SAEConfig, tensors: dict[str, torch.Tensor]):
        super().__init__()
        self.cfg = cfg
        where = cfg.source_path or "SAE"
        self.arch: Architecture = architecture(cfg.architecture, where)
        cfg.architecture = self.arch.name
        if cfg.normalize_activations not in NORMALISATIONS:
            raise InputError(f"{where}: unknown input normalisation {cfg.normalize_activations!r}; "
                             f"steerdesk reads {', '.join(NORMALISATIONS)}")
        _check_config(cfg, where)
        self.arch.check(cfg, where)
        need = {"W_enc": (cfg.d_in, cfg.d_sae), "W_dec": (cfg.d_sae, cfg.d_in), "b_dec": (cfg.d_in,),
                **{name: (cfg.d_sae,) for name in self.arch.tensors}}
        optional = {"W_skip": (cfg.d_in, cfg.d_in)}
        for name, shape in {**need, **optional}.items():
            t = tensors.get(name)
            if t is None:
                if name in need:
                    raise InputError(f"{where}: tensor {name!r} is missing "
                                     f"(a {cfg.architecture} SAE needs {', '.join(need)})")
                continue
            if tuple(t.shape) != shape:
                raise InputError(f"{where}: tensor {name!r} has shape {tuple(t.shape)}, "
                                 f"expected {shape} for d_in={cfg.d_in}, d_sae={cfg.d_sae}")
            if not t.is_floating_point():
                raise InputError(f"{where}: tensor {name!r} holds {str(t.dtype).replace('torch.', '')}"
                                 ", where weights must be floating point")
            if not torch.isfinite(t).all():
                raise InputError(f"{where}: tensor {name!r} holds NaN or Inf values")
            peak = float(t.abs().max()) if t.numel() else 0.0
            if peak > MAX_ABS_WEIGHT:
                raise InputError(f"{where}: tensor {name!r} holds values up to {peak:.3g}, far "
                                 "beyond any trained SAE's; the file is corrupt")
            self.register_buffer(name, t.detach().clone().float().contiguous())
        self._has_skip = "W_skip" in tensors and tensors["W_skip"] is not None
        # The fraction of tokens each feature fires on, where the files say (SAELens
        # sparsity.safetensors); kept on the CPU, not moved with the weights.
        self.feature_density: torch.Tensor | None = None

    # ---- shape and identity -------------------------------------------------------------
    @property
    def d_in(self) -> int:
        return self.cfg.d_in

    @property
    def d_sae(self) -> int:
        return self.cfg.d_sae

    @property
    def device(self) -> torch.device:
        return self.W_dec.device

    @property
    def dtype(self) -> torch.dtype:
        return self.W_dec.dtype

    def check_index(self, index: int) -> int:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < self.d_sae:
            raise InputError(f"feature index {index} is out of range: this SAE has "
                             f"{self.d_sae} features (0..{self.d_sae - 1})")
        return index

    # ---- normalisation ------------------------------------------------------------------
    def normalise(self, x: torch.Tensor) -> tuple[torch.Tensor, NormState]:
        mode = self.cfg.normalize_activations
        if mode == "none":
            return x, NormState(1.0)
        if mode == "scale":
            s = self.cfg.input_scale
            return x * s, NormState(1.0 / s)
        if mode == "centre":
            mu = x.mean(dim=-1, keepdim=True)
            return x - mu, NormState(1.0, mu)
        if mode == "constant_norm_rescale":
            factor = math.sqrt(self.d_in) / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            return x * factor, NormState(1.0 / factor)
        # layer_norm, as SAELens and OpenAI's sparse_autoencoder compute it: centre, divide by the
        # unbiased std + 1e-5; decoding multiplies by the std alone (without the eps) and adds mu.
        mu = x.mean(dim=-1, keepdim=True)
        xc = x - mu
        std = xc.std(dim=-1, keepdim=True)
        return xc / (std + LAYER_NORM_EPS), NormState(std, mu)

    @staticmethod
    def denormalise(y: torch.Tensor, state: NormState) -> torch.Tensor:
        return y * state.scale + state.shift

    # ---- encode -------------------------------------------------------------------------
    def _sae_input(self, x_normed: torch.Tensor) -> torch.Tensor:
        return x_normed - self.b_dec if self.cfg.apply_b_dec_to_input else x_normed

    def _prepare(self, x: torch.Tensor) -> tuple[torch.Tensor, NormState]:
        """The SAE input of `x [..., d_in]`, and the state to decode back to the model's scale."""
        xn, state = self.normalise(x.to(self.dtype))
        return self._sae_input(xn), state

    def encode_with_state(self, x: torch.Tensor) -> tuple[torch.Tensor, NormState]:
        """All feature activations of `x [..., d_in]`, and the state to decode them back."""
        xs, state = self._prepare(x)
        return self.arch.encode(self, xs), state

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode_with_state(x)[0]

    def encode_subset_with_state(self, x: torch.Tensor, indices: torch.Tensor
                                 ) -> tuple[torch.Tensor, NormState]:
        """Activations of only the features in `indices` (without a full encode where the
        architecture allows it), and the state to decode them back."""
        xs, state = self._prepare(x)
        return self.arch.encode_subset(self, xs, indices), state

    def encode_subset(self, x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        return self.encode_subset_with_state(x, indices)[0]

    def subset_if_active(self, indices: torch.Tensor):
        """A function of x [..., d_in]: what the features in `indices` are where they are
        active, each true activation being this or 0. For TopK that skips the k-th largest
        (every pre-activation); elsewhere it is `encode_subset`. A comparison that reads the
        same for this value and for 0 needs no more (rule_gates.py). The encoder's part for
        these features is gathered once, when the function is made."""
        part = self.arch.subset_if_active(self, indices)
        return lambda x: part(self._prepare(x)[0])

    # ---- decode -------------------------------------------------------------------------
    def decode(self, acts: torch.Tensor, state: NormState, x: torch.Tensor | None = None
               ) -> torch.Tensor:
        y = self.denormalise(acts @ self.W_dec + self.b_dec, state)
        if self._has_skip:
            if x is None:
                raise ValueError("this SAE has a skip connection: decode needs the input x")
            y = y + x.to(self.dtype) @ self.W_skip
        return y

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        acts, state = self.encode_with_state(x)
        return self.decode(acts, state, x)

    def decoder_rows(self, indices: torch.Tensor, state: NormState | None = None) -> torch.Tensor:
        """Decoder rows in the model's space: what one unit of each feature adds to x.
        With per-token normalisation this depends on the token, hence `state`."""
        rows = self.W_dec.index_select(0, indices)
        if state is None or self.cfg.normalize_activations == "none":
            return rows
        scale = state.scale
        if isinstance(scale, torch.Tensor):
            return scale.unsqueeze(-2) * rows  # [..., 1, 1] * [n, d] -> [..., n, d]
        return rows * scale

    def model_space_scale(self) -> float:
        """The constant factor from SAE space to model space, where one exists (1.0 for
        unnormalised SAEs); per-token normalisations return 1.0 and are handled per token."""
        if self.cfg.normalize_activations == "scale":
            return 1.0 / self.cfg.input_scale
        return 1.0
