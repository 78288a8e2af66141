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

and decoding is `denormalise(acts @ W_dec + b_dec) (+ x @ W_skip)`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from steerdesk.engine.errors import InputError

ARCHITECTURES = ("relu", "jumprelu", "topk", "gated")
# Names other tools use for the same architectures.
ARCHITECTURE_ALIASES = {"standard": "relu", "relu": "relu", "jumprelu": "jumprelu",
                        "topk": "topk", "batchtopk": "topk", "gated": "gated"}
NORMALISATIONS = ("none", "scale", "constant_norm_rescale", "layer_norm", "centre")
LAYER_NORM_EPS = 1e-5


@dataclass
class SAEConfig:
    architecture: str
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


def normalise_architecture(name: str, where: str) -> str:
    arch = ARCHITECTURE_ALIASES.get(str(name).lower())
    if arch is None:
        raise InputError(
            f"{where}: unknown SAE architecture {name!r}; steerdesk reads "
            f"{', '.join(sorted(ARCHITECTURE_ALIASES))}")
    return arch


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
        cfg.architecture = normalise_architecture(cfg.architecture, where)
        if cfg.normalize_activations not in NORMALISATIONS:
            raise InputError(f"{where}: unknown input normalisation {cfg.normalize_activations!r}; "
                             f"steerdesk reads {', '.join(NORMALISATIONS)}")
        if cfg.architecture == "topk" and not cfg.k:
            raise InputError(f"{where}: a TopK SAE needs k in its config")
        need = {"W_enc": (cfg.d_in, cfg.d_sae), "W_dec": (cfg.d_sae, cfg.d_in), "b_dec": (cfg.d_in,)}
        if cfg.architecture == "gated":
            need.update(b_gate=(cfg.d_sae,), b_mag=(cfg.d_sae,), r_mag=(cfg.d_sae,))
        else:
            need["b_enc"] = (cfg.d_sae,)
        if cfg.architecture == "jumprelu":
            need["threshold"] = (cfg.d_sae,)
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
            if not torch.isfinite(t).all():
                raise InputError(f"{where}: tensor {name!r} holds NaN or Inf values")
            self.register_buffer(name, t.detach().clone().float().contiguous())
        self._has_skip = "W_skip" in tensors and tensors["W_skip"] is not None

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

    def encode_with_state(self, x: torch.Tensor) -> tuple[torch.Tensor, NormState]:
        """All feature activations of `x [..., d_in]`, and the state to decode them back."""
        x = x.to(self.dtype)
        xn, state = self.normalise(x)
        xs = self._sae_input(xn)
        arch = self.cfg.architecture
        if arch == "gated":
            gate = (xs @ self.W_enc + self.b_gate) > 0
            mag = torch.relu(xs @ (self.W_enc * torch.exp(self.r_mag)) + self.b_mag)
            return gate.to(mag.dtype) * mag, state
        pre = xs @ self.W_enc + self.b_enc
        if arch == "relu":
            return torch.relu(pre), state
        if arch == "jumprelu":
            return torch.relu(pre) * (pre > self.threshold).to(pre.dtype), state
        top = torch.topk(pre, k=min(int(self.cfg.k), self.d_sae), dim=-1)
        return torch.zeros_like(pre).scatter_(-1, top.indices, torch.relu(top.values)), state

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode_with_state(x)[0]

    def encode_subset(self, x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """Activations of only the features in `indices`, without a full encode where the
        architecture allows it (TopK needs every pre-activation to know the k largest)."""
        if self.cfg.architecture == "topk":
            return self.encode(x).index_select(-1, indices)
        x = x.to(self.dtype)
        xn, _ = self.normalise(x)
        xs = self._sae_input(xn)
        W = self.W_enc.index_select(1, indices)
        if self.cfg.architecture == "gated":
            gate = (xs @ W + self.b_gate[indices]) > 0
            mag = torch.relu(xs @ (W * torch.exp(self.r_mag[indices])) + self.b_mag[indices])
            return gate.to(mag.dtype) * mag
        pre = xs @ W + self.b_enc[indices]
        acts = torch.relu(pre)
        if self.cfg.architecture == "jumprelu":
            acts = acts * (pre > self.threshold[indices]).to(pre.dtype)
        return acts

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
