"""Where an SAE reads and writes: hook names resolved to modules of a Hugging Face model.

TransformerLens names (`blocks.L.hook_resid_post`, ...) and sparsify names (`layers.L`,
`embed_tokens`) both map to a module plus a side: "output" (a forward hook) or "input"
(a forward pre-hook). `resid_pre` of block L is the input of block L; `resid_post` its output.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import torch

from steerdesk.engine.errors import InputError

# Where each family keeps its decoder blocks, most specific first.
BLOCK_PATHS = ("model.language_model.layers", "model.layers", "transformer.h", "gpt_neox.layers",
               "model.decoder.layers", "transformer.layers", "transformer.blocks", "layers")
ATTN_NAMES = ("self_attn", "attn", "attention", "self_attention")
MLP_NAMES = ("mlp", "feed_forward", "ffn")

_TL = re.compile(r"^blocks\.(\d+)\.(hook_resid_pre|hook_resid_post|hook_resid_mid|hook_mlp_out|"
                 r"hook_attn_out|attn\.hook_\w+|mlp\.hook_\w+|\w+)$")
_SPARSIFY = re.compile(r"^(?:model\.)?layers\.(\d+)$")


@dataclass
class HookPoint:
    name: str            # the name as the SAE or the user gave it
    module: torch.nn.Module
    side: str            # "output" or "input"
    layer: int | None
    description: str

    def register(self, fn: Callable[[torch.Tensor], torch.Tensor | None]):
        """Install `fn(hidden) -> new hidden or None` and return the handle to remove it."""
        if self.side == "output":
            def out_hook(module, args, output):
                hidden = output[0] if isinstance(output, tuple) else output
                new = fn(hidden)
                if new is None:
                    return None
                return (new, *output[1:]) if isinstance(output, tuple) else new
            return self.module.register_forward_hook(out_hook)

        def pre_hook(module, args, kwargs):
            if args:
                new = fn(args[0])
                return None if new is None else ((new, *args[1:]), kwargs)
            new = fn(kwargs["hidden_states"])
            return None if new is None else (args, {**kwargs, "hidden_states": new})
        return self.module.register_forward_pre_hook(pre_hook, with_kwargs=True)

    @contextmanager
    def installed(self, fn: Callable[[torch.Tensor], torch.Tensor | None]) -> Iterator[None]:
        """`fn` installed for the body of a with-statement, and removed however it ends."""
        handle = self.register(fn)
        try:
            yield
        finally:
            handle.remove()


class _Reached(Exception):
    """Raised inside a capture hook to end the forward pass once the activation is taken."""


def capture_at(model: torch.nn.Module, hook: HookPoint, input_ids: torch.Tensor,
               attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """The activation at `hook` for `input_ids [batch, seq]`, as `[batch, seq, width]`. The
    forward pass stops there: the layers after the hook cannot change it, so they never run."""
    grabbed: list[torch.Tensor] = []

    def grab(hidden: torch.Tensor):
        if not isinstance(hidden, torch.Tensor) or hidden.dim() != 3:
            what = (f"a {type(hidden).__name__}" if not isinstance(hidden, torch.Tensor)
                    else f"a tensor of shape {list(hidden.shape)}")
            raise InputError(f"hook {hook.name!r}: {hook.description} is {what}, not one "
                             "activation per token; name a block's input or output instead "
                             "(for example blocks.6.hook_resid_post or layers.6)", field="hook")
        grabbed.append(hidden.detach())
        raise _Reached

    with hook.installed(grab), torch.inference_mode():
        try:
            model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
        except _Reached:
            pass
    if not grabbed:
        raise InputError(f"hook {hook.name!r}: the model never ran through {hook.description}",
                         field="hook")
    return grabbed[0]


def find_module(root: torch.nn.Module, dotted: str) -> torch.nn.Module | None:
    """The submodule at a dotted path ("model.layers", "transformer.h.3"), or None."""
    try:
        return root.get_submodule(dotted)
    except AttributeError:
        return None


def find_blocks(model: torch.nn.Module) -> tuple[str, torch.nn.ModuleList]:
    for path in BLOCK_PATHS:
        blocks = find_module(model, path)
        if isinstance(blocks, torch.nn.ModuleList) and len(blocks) > 0:
            return path, blocks
    raise InputError(
        f"{type(model).__name__}: steerdesk cannot find this model's decoder blocks "
        f"(looked at {', '.join(BLOCK_PATHS)})")


def _child(block: torch.nn.Module, names: tuple[str, ...], what: str, layer: int) -> torch.nn.Module:
    for name in names:
        if hasattr(block, name):
            return getattr(block, name)
    raise InputError(f"block {layer} of this model has no {what} module "
                     f"(looked for {', '.join(names)})", field="hook")


def no_hook_error(where: str) -> InputError:
    """An SAE whose files do not say where it reads, and no hook name given."""
    return InputError(f"{where}: the SAE does not say which activation it reads; name its hook "
                      "(for example blocks.6.hook_resid_post or layers.6)", field="hook",
                      cli_hint="pass --hook NAME")


def resolve_hook(model: torch.nn.Module, name: str) -> HookPoint:
    if not name:
        raise no_hook_error("SAE")
    path, blocks = find_blocks(model)
    n = len(blocks)

    def block(layer: int) -> torch.nn.Module:
        if not 0 <= layer < n:
            raise InputError(f"hook {name!r}: layer {layer} does not exist; this model has "
                             f"{n} layers (0..{n - 1})", field="hook")
        return blocks[layer]

    m = _SPARSIFY.match(name)
    if m:
        layer = int(m.group(1))
        return HookPoint(name, block(layer), "output", layer, f"output of {path}[{layer}]")
    if name in ("embed_tokens", "embed", "hook_embed", "model.embed_tokens"):
        return HookPoint(name, block(0), "input", 0, f"input of {path}[0] (the embeddings)")
    m = _TL.match(name)
    if m:
        layer, point = int(m.group(1)), m.group(2)
        b = block(layer)
        if point == "hook_resid_post":
            return HookPoint(name, b, "output", layer, f"output of {path}[{layer}]")
        if point == "hook_resid_pre":
            return HookPoint(name, b, "input", layer, f"input of {path}[{layer}]")
        if point == "hook_mlp_out":
            return HookPoint(name, _child(b, MLP_NAMES, "MLP", layer), "output", layer,
                             f"output of {path}[{layer}]'s MLP")
        if point == "hook_attn_out":
            return HookPoint(name, _child(b, ATTN_NAMES, "attention", layer), "output", layer,
                             f"output of {path}[{layer}]'s attention")
        raise InputError(
            f"hook {name!r}: steerdesk reads and steers hook_resid_pre, hook_resid_post, "
            "hook_mlp_out and hook_attn_out; this point sits inside a block where a Hugging Face "
            "model has no module boundary to hook", field="hook")
    # A plain module path, e.g. "model.layers.3": its output.
    module = find_module(model, name)
    if module is not None:
        return HookPoint(name, module, "output", None, f"output of {name}")
    raise InputError(f"hook {name!r}: not a TransformerLens hook name (blocks.L.hook_resid_post), "
                     "a sparsify hookpoint (layers.L) or a module of this model", field="hook")


def hooked_width(model: torch.nn.Module, hook: HookPoint) -> int:
    """The width of the activation at `hook`, measured with a one-token forward pass."""
    dev = next(model.parameters()).device
    return int(capture_at(model, hook, torch.zeros((1, 1), dtype=torch.long, device=dev)).shape[-1])
