"""What the app says, in one place: feature names, column headers, the status line. Plain
strings, no Qt. Steering itself is put in words by engine.describe, as in the CLI."""

from __future__ import annotations

import re
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


def vector_words(name: str) -> str:
    """A steering vector built from examples, where a sentence needs a name."""
    return f"vector {name}"


TYPICAL_TIP = ("Strength in multiples of the typical activation along this vector: 1.0 adds "
               "one typical activation along the concept (the root-mean-square size of the "
               "example texts' activations in its direction), 2.0 twice that; negative pushes "
               "away from the concept")


def density(d: float | None) -> str:
    """How often a feature is active, one way everywhere: '1 in 40,000 tokens', '1 in 5
    tokens', 'never active'; '–' unknown."""
    if d is None:
        return "–"
    if d <= 0:
        return "never active"
    n = 1.0 / min(d, 1.0)
    if n < 1.5:
        return "every token"
    digits = max(len(str(int(n))) - 2, 0)       # two significant figures: 1 in 42,000
    n = int(round(n, -digits))
    return f"1 in {n:,} tokens"


_HOOK = re.compile(r"^(?:blocks|model\.layers|layers|transformer\.h|h)\.(\d+)(?:\.(.+))?$")
_HOOK_POINTS = {"hook_resid_post": "after layer {}", "hook_resid_pre": "before layer {}",
                "hook_resid_mid": "inside layer {} (between attention and MLP)",
                "hook_mlp_out": "the MLP output of layer {}",
                "hook_attn_out": "the attention output of layer {}", None: "after layer {}"}


def hook_words(hook: str | None) -> str:
    """Where the SAE reads, in words: 'after layer 2' for blocks.2.hook_resid_post (layers
    counted from 0, as in the hook's name); the name itself where it has no words here."""
    m = _HOOK.match(str(hook or ""))
    if m is None or m.group(2) not in _HOOK_POINTS:
        return str(hook or "?")
    return _HOOK_POINTS[m.group(2)].format(m.group(1))


# A quoted token may hold quotes itself ("''t'"): it ends at a quote that a separator follows.
_Q = r"'.*?'(?=(?: / |, |\)| after | at the start|$))"
_QUOTED = r"'(.*?)'(?=(?: / |, |\)| after | at the start|$))"
_AUTO = re.compile(r"^(?:(?P<tag>[^'\u2192:]+): )?(?P<core>.+?)"
                   rf"(?: \(\u2192 (?P<next>{_Q}(?:, {_Q})*)\))?$")
_CORE = re.compile(rf"^(?P<tokens>{_Q}(?: / {_Q})*|words ending in '-[^']*')"
                   rf"(?P<where> after {_Q}| at the start of a text)?$")


def _token(t: str) -> str:
    """A token in running text: bare when it is a word or number, in quotes otherwise."""
    return t if t.replace("-", "").isalnum() else f"\u201c{t}\u201d"


def plain_label(label: str | None) -> str | None:
    """An automatic label, "German text: 'die' / 'und' (→ 'der', 'ist')", read as a phrase:
    "German text: die, und; next often der, ist". Labels in any other form (hand-written,
    imported) come back as they are."""
    if not label:
        return label
    m = _AUTO.match(label)
    core = _CORE.match(m.group("core")) if m else None
    if core is None:
        return label
    tokens = core.group("tokens")
    if tokens.startswith("words ending in"):
        text = tokens
    else:
        text = ", ".join(_token(t) for t in re.findall(_QUOTED, tokens))
    where = core.group("where") or ""
    if where.startswith(" after"):
        where = f" after {_token(re.findall(_QUOTED, where)[0])}"
    text += where
    if m.group("next"):
        text += "; next often " + ", ".join(_token(t) for t in re.findall(_QUOTED,
                                                                           m.group("next")))
    tag = m.group("tag")
    if tag:
        return f"{tag.strip()}: {text}"
    return text   # untagged: the tokens alone, so a narrow label column still tells them apart


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


def opening_name(pair: dict) -> str:
    """What is being opened, in words: 'the pocket pack', or the model's name + the SAE's
    (the pack's folders are called model/ and sae/, which said nothing)."""
    model, sae = Path(str(pair.get("model"))), Path(str(pair.get("sae")))
    title = model_title(model.name, model)
    if title == "pocket pack":
        return "the pocket pack"
    return f"{title} with the SAE {model_title(sae.name, sae)}"


def loading_line(pair: dict) -> str:
    return f"Loading {opening_name(pair)}…"


def opening_note(pair: dict) -> str:
    """The window's middle while a model loads: what is being opened, not 'open one'."""
    return (f"Opening {opening_name(pair)}… This takes a few seconds (up to half a minute "
            "the first time); the status bar below shows how far it is.")


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
            f"features {hook_words(d['sae']['hook'])} · {catalog} · {d['model']['device']} "
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


def first_start_line(preset: str) -> str:
    return (f"Welcome: the preset “{preset}” is on the steering panel. Press Generate "
            "(Ctrl+Enter) to see the text with and without it; Help > Guide explains the rest.")


def prompt_note(record) -> str:
    """What the user should know about the prompt a run used ('' when nothing)."""
    if record.prompt_cut:
        kept = len(record.prompt_tokens)
        return (f"The prompt was too long for this model ({record.context:,} positions, with "
                f"room kept for the new tokens): its first {record.prompt_cut:,} tokens were "
                f"cut, and the model continued its last {kept:,}.")
    if not record.prompt.strip():
        return ("The prompt is empty: the model writes from its start-of-text token alone, "
                "so every column shows what it says unprompted.")
    return ""


def verdict(names, p_a: float) -> str:
    """A classifier's answer in words: 'probably “spam” (83% sure)'. p_a: P(names[0])."""
    side, p = (names[0], p_a) if p_a >= 0.5 else (names[1], 1.0 - p_a)
    how = "clearly" if p >= 0.9 else "probably" if p >= 0.7 else "leaning towards"
    return f"{how} “{side}” ({100 * p:.0f}% sure)"


def accuracy_words(accuracy: float | None, n_a: int, n_b: int) -> str:
    """How well the classifier sorted the examples it learned from, and what that means."""
    if accuracy is None:
        return ""
    right = round(accuracy * (n_a + n_b))
    warn = (" With this few examples that says little: try it on texts it has not seen."
            if n_a + n_b < 20 else "")
    return (f"It puts {right} of the {n_a + n_b} example texts on the correct side "
            f"({100 * accuracy:.0f}%).{warn}")


PROMPTED_SETTINGS = ("no steering: the instruction goes before the prompt (a blank line "
                     "between), with the same seed as the other columns")
COSTS_TIP = ("fluency cost: the perplexity of this text under the unsteered model; lower reads "
             "more like the model's own text (compare it with the baseline's). reach: how "
             "strongly the steered feature fired on average over the generated text, in "
             "multiples of its largest activation in the catalog (raw units where there is "
             "none); while a classifier scores the columns, how sure it is of its first side")


def fluency_words(perplexity: float) -> str:
    """A perplexity as a header shows it: whole numbers from 100, one decimal below."""
    return f"{perplexity:,.0f}" if perplexity >= 100 else f"{perplexity:.1f}"


def costs_line(record, row: int) -> str:
    """'fluency cost 140 · reach 1.3× max' for row `row` once its costs are in; '' before.
    'cost': a bigger number is worse, which 'fluency 1,245' had read as the opposite."""
    if record.costs is None or row >= len(record.costs):
        return ""
    parts = []
    ppl = record.costs[row]["perplexity"]
    if ppl is not None:
        parts.append(f"fluency cost {fluency_words(ppl)}")
    reach = record.reach(row)
    if reach is not None:
        if record.classifier is not None:
            parts.append(f"reach {reach:.0%} “{record.classifier.names[0]}”")
        elif record.reach_max is not None:
            parts.append(f"reach {reach:.2f}× max")   # 0.00, not 0.0049: read at a glance
        else:
            parts.append(f"reach {reach:.3g}")
    return " · ".join(parts) if parts else "no text to score"
