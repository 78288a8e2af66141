"""What the app says, in one place: feature names, column headers, the status line. Plain
strings, no Qt. Steering itself is put in words by engine.describe, as in the CLI."""

from __future__ import annotations

from pathlib import Path

from steerdesk.engine import pack
from steerdesk.engine.describe import LabelOf, describe_spec, unit_suffix
from steerdesk.engine.steering import SteeringSpec

NO_PANEL_ROWS = "no steering yet: add features to the steering panel"
ALL_SWITCHED_OFF = "no steering (every feature is switched off)"
NO_CATALOG = ("no catalog for this SAE: strengths are in raw units and features have "
              "numbers, not labels")
STILL_LOADING = "still loading the new model; generate again when it is ready"
WHY_IT_ENDED = {"length": "reached max tokens", "eos": "end of text", "cancelled": "stopped"}


def feature_name(index: int, label: str | None, width: int | None = None) -> str:
    """'#12 German text' (the label cut to `width`), or '#12' when it has no label."""
    label = (label or "")[:width] if width is not None else (label or "")
    return f"#{index} {label}".rstrip()


def feature_words(index: int, label: str | None) -> str:
    """The label, or 'feature 12' where a sentence needs a name."""
    return label or f"feature {index}"


def density(d: float | None) -> str:
    """How often a feature is active: '2.50%', '1.0e-05' for the rare ones, '–' unknown."""
    if d is None:
        return "–"
    return f"{d:.2%}" if d >= 0.0001 else f"{d:.1e}"


def column_settings(specs: list[SteeringSpec], panel_has_rows: bool,
                    label_of: LabelOf) -> list[str]:
    """The settings line under each steered column's title."""
    if not panel_has_rows:
        return [NO_PANEL_ROWS] * len(specs)
    return [describe_spec(s, label_of, empty=ALL_SWITCHED_OFF) for s in specs]


def sweep_title(strength: float, unit: str) -> str:
    return f"{strength:+g}{unit_suffix(unit)}"


def pair_text(pair: dict) -> str:
    """A remembered model + SAE pair, by their file names."""
    return f"{Path(str(pair.get('model'))).name}  +  {Path(str(pair.get('sae'))).name}"


def loading_line(pair: dict) -> str:
    return f"Loading {pair_text(pair)}…"


def model_title(name: str, path: Path) -> str:
    """'pocket pack' for the built-in model; a folder called 'model' says more by its parent."""
    try:
        if Path(path).resolve() == pack.pocket_model().resolve():
            return "pocket pack"
    except OSError:
        pass
    if name in ("model", "snapshot") or len(name) == 40:   # 40: a hub snapshot's hash
        return f"{Path(path).parent.name}/{name}"
    return name


def session_name(session) -> str:
    return model_title(session.describe()["model"]["name"], session.lm.path)


def session_line(session) -> str:
    """The status bar's account of what is open."""
    d = session.describe()
    catalog = "catalog" if session.catalog is not None else "no catalog"
    return (f"{session_name(session)} · SAE {d['sae']['d_sae']:,} "
            f"features at {d['sae']['hook']} · {catalog} · {d['model']['device']} "
            f"{d['model']['dtype']}")


def finished_status(record) -> tuple[str, str] | None:
    """How a run ended, and a tooltip with more; None when it has no DoneEvent."""
    done = record.done
    if done is None:
        return None
    rate = done.steps / done.seconds if done.seconds > 0 else 0
    why = WHY_IT_ENDED.get(done.reason, done.reason)
    note = (" · this model has no chat template, so the prompt went in as plain text"
            if record.chat_requested and not record.chat_template_used else "")
    if record.compile_requested and done.decode.startswith("eager:"):
        note += f" · decoded without compiling ({done.decode[len('eager:'):].strip()})"
    elif done.decode == "compiled":
        note += " · compiled"
    text = f"{why} · {done.steps} tokens · {done.seconds:.1f} s · {rate:.0f} tokens/s{note}"
    tip = (f"{done.steps} decoding steps for all columns at once; first token after "
           f"{(done.first_token_seconds or 0):.2f} s")
    return text, tip


def settings_problems(problems: list[str]) -> str:
    """One line for settings that could not be read and were reset to their defaults."""
    return "Some settings could not be read and were reset: " + "; ".join(problems)[:200]
