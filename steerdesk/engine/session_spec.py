"""What to open: a model, an SAE, where the SAE reads, on which device, and the user's yes to
pickle or remote code. The CLI builds its flags from these fields, and the app's open dialog
fills one in; both open it with `SessionSpec.open()`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Callable

from steerdesk.engine import pack

if TYPE_CHECKING:
    from steerdesk.engine.models import Progress
    from steerdesk.engine.session import Session

# This module imports no torch: the CLI builds its parser from these fields, and every
# `steerdesk --help` would wait seconds for it. The model and SAE code is imported when used.


class _Deferred:
    """A value in a help text, worked out when the text is shown."""

    def __init__(self, fn: Callable[[], str]):
        self.fn = fn

    def __str__(self) -> str:
        return self.fn()


def _format_titles() -> str:
    from steerdesk.engine.sae import registry   # imports every format module, and torch

    return registry.titles()


# The %(name)s values of the help texts below.
HELP_VALUES = {"formats": _Deferred(_format_titles)}


def _opt(default: Any, flag: str, help: str, metavar: str | None = None) -> Any:
    """A field with what the CLI needs to offer it as a flag; `help` may hold %(name)s values
    of HELP_VALUES, as argparse fills them in."""
    return field(default=default, metadata={"flag": flag, "help": help, "metavar": metavar})


@dataclass
class SessionSpec:
    model: str = _opt("", "--model", "a model folder, or a hub id already in the local Hugging "
                      "Face cache", "M")
    sae: str = _opt("", "--sae", "an SAE folder or file (%(formats)s), or RELEASE:SAE_ID pulled "
                    "with `steerdesk models pull` (its model is implied)", "S")
    hook: str | None = _opt(None, "--hook", "where the SAE reads the model, when its files do "
                            "not say (e.g. blocks.6.hook_resid_post or layers.6)", "NAME")
    device: str = _opt("auto", "--device", "auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, "
                       "mps", "DEV")
    dtype: str = _opt("auto", "--dtype", "auto (bf16 on a GPU, fp32 on a CPU), float32, "
                      "bfloat16, float16", "DT")
    allow_pickle: bool = _opt(False, "--allow-pickle", "yes, read .pt/.pth SAE files (pickle; "
                              "read with torch.load(weights_only=True))")
    trust_remote_code: bool = _opt(False, "--trust-remote-code", "yes, run Python code shipped "
                                   "in the model's repository")

    # The yes to pickle and remote code is given per opening, never remembered.
    CONSENTS = ("allow_pickle", "trust_remote_code")

    @classmethod
    def options(cls):
        """The dataclass fields, each with its CLI flag, help and metavar in `.metadata`."""
        return fields(cls)

    @classmethod
    def help_text(cls, name: str) -> str:
        """Field `name`'s help, its values filled in (for a tooltip)."""
        meta = next(f.metadata for f in fields(cls) if f.name == name)
        return meta["help"] % HELP_VALUES

    @classmethod
    def pocket(cls, **options: Any) -> SessionSpec | None:
        """The pocket pack shipped with steerdesk (with `options`), or None when it is not
        installed."""
        if not pack.pocket_available():
            return None
        return cls(model=str(pack.pocket_model()), sae=str(pack.pocket_sae()), **options)

    @classmethod
    def from_pair(cls, pair: dict) -> SessionSpec:
        """From a remembered pair (settings, recent list). Unknown keys, consents and values of
        the wrong type are dropped: remembered state is advisory."""
        kept = {}
        for f in fields(cls):
            if f.name in cls.CONSENTS or f.name not in pair:
                continue
            value = pair[f.name]
            if isinstance(value, str) or (value is None and f.default is None):
                kept[f.name] = value
        return cls(**kept)

    def pair(self) -> dict:
        """What the recent list remembers (the yes to pickle/remote code is not remembered)."""
        d = asdict(self)
        for key in self.CONSENTS:
            d.pop(key)
        return d

    def open(self, progress: Progress | None = None) -> Session:
        """Load the model and SAE and join them: a `Session`."""
        from steerdesk.engine.session import open_session

        return open_session(self.model, self.sae, hook=self.hook, device=self.device,
                            dtype=self.dtype, allow_pickle=self.allow_pickle,
                            trust_remote_code=self.trust_remote_code, progress=progress)
