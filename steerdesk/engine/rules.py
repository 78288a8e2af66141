"""Conditional steering ("rules"): *when CONDITION then ACTION [for N tokens]*.

A condition is read at the SAE's hook at every position the model processes, from the prompt's
last token on, on the activation as it reaches the hook (before any steering at that position):
- `FeatureCondition`: one feature's activation above or below a value (raw, or in multiples
  of the feature's max activation from the catalog);
- `ClassifierCondition`: a saved classifier's score (engine/catalog/contrast_sets.py), pooled
  over the positions seen so far, above or below a value;
- `TextCondition`: the row's generated text so far has a whole word (case-insensitive) or a
  match of a regular expression.
When it holds at position t, the action steers positions t+1 .. t+N (`for_tokens`), or, with
no N, position t+1 alone (so: for as long as it holds). The action is a steering variant's
feature list (add / clamp / ablate) or "stop" (the row ends after the token at t).

The grammar (`to_text`, parse_rule in rule_grammar.py) and the words (`describe`) live here;
the evaluation (signals read in the hook, each rule's state moved on on the host) is in
rule_gates.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from steerdesk.engine.errors import InputError
from steerdesk.engine.steering import UNITS, FeatureSteer

if TYPE_CHECKING:
    from steerdesk.engine.catalog.contrast_sets import Classifier
    from steerdesk.engine.describe import LabelOf

OPS = (">", "<")
EXAMPLE = "when 12>3.5 then 40=8 for 5"


def _check_op(op: str, what: str) -> None:
    if op not in OPS:
        raise InputError(f"{what}: comparison {op!r}: use > or <", field="rule")


def _check_number(value: float, what: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value \
            or value in (float("inf"), float("-inf")):
        raise InputError(f"{what}: {value!r} is not a finite number", field="rule")


@dataclass(frozen=True)
class FeatureCondition:
    index: int
    op: str
    value: float
    unit: str = "raw"

    def __post_init__(self):
        if not isinstance(self.index, int) or isinstance(self.index, bool) or self.index < 0:
            raise InputError(f"rule condition: feature {self.index!r} is not a whole number "
                             ">= 0", field="rule")
        _check_op(self.op, f"feature {self.index}")
        _check_number(self.value, f"feature {self.index}")
        if self.unit not in UNITS:
            raise InputError(f"feature {self.index}: unit {self.unit!r}: use raw or max",
                             field="rule")


@dataclass(frozen=True)
class ClassifierCondition:
    path: str
    value: float
    op: str = ">"

    def __post_init__(self):
        if not isinstance(self.path, str) or not self.path.strip():
            raise InputError("rule condition: the classifier file is not named", field="rule")
        _check_op(self.op, f"classifier {self.path}")
        _check_number(self.value, f"classifier {self.path}")

    def load(self) -> Classifier:
        """The classifier, read from its file (an InputError naming the file if it cannot)."""
        from steerdesk.engine.catalog.contrast_sets import Classifier

        return Classifier.load(self.path)


@dataclass(frozen=True)
class TextCondition:
    pattern: str
    regex: bool = False

    def __post_init__(self):
        if not isinstance(self.pattern, str) or not self.pattern:
            raise InputError("rule condition: the text to look for is empty", field="rule")
        if self.regex:
            # A '/' inside the pattern is written '\/' (the grammar's delimiter); both mean '/'
            # to the regex engine, so the stored form is the escaped one (it round-trips).
            object.__setattr__(self, "pattern", re.sub(r"(?<!\\)((?:\\\\)*)/", r"\1\\/",
                                                       self.pattern))
        try:
            self.compiled()
        except (re.error, OverflowError, RecursionError, ValueError) as exc:
            raise InputError(f"rule condition: /{self.pattern}/ is not a regular expression "
                             f"({exc})", field="rule") from None

    def compiled(self) -> re.Pattern:
        if self.regex:
            return re.compile(self.pattern)
        return re.compile(rf"(?<!\w){re.escape(self.pattern)}(?!\w)", re.IGNORECASE)


Condition = Union[FeatureCondition, ClassifierCondition, TextCondition]
Action = Union[tuple[FeatureSteer, ...], str]


@dataclass(frozen=True)
class Rule:
    condition: Condition
    action: Action
    unit: str = "raw"               # the unit of the action's strengths
    for_tokens: int | None = None   # None: the next position only, for as long as it holds

    def __post_init__(self):
        if not isinstance(self.condition, (FeatureCondition, ClassifierCondition, TextCondition)):
            raise InputError(f"rule: {self.condition!r} is not a condition", field="rule")
        if isinstance(self.action, str):
            if self.action != "stop":
                raise InputError(f"rule action {self.action!r}: use 'stop' or features to "
                                 "steer (40=8,7=ablate)", field="rule")
            if self.for_tokens is not None:
                raise InputError("rule: 'stop' ends the row, so 'for N' does not apply to it",
                                 field="rule")
        else:
            action = tuple(self.action)
            if not action or not all(isinstance(f, FeatureSteer) for f in action):
                raise InputError("rule: the action steers no feature", field="rule")
            object.__setattr__(self, "action", action)
        if self.unit not in UNITS:
            raise InputError(f"rule: unit {self.unit!r}: use raw or max", field="rule")
        if self.stops or all(f.mode == "ablate" for f in self.action):
            object.__setattr__(self, "unit", "raw")   # no strength to be in a unit
        if self.for_tokens is not None and (
                not isinstance(self.for_tokens, int) or isinstance(self.for_tokens, bool)
                or not 1 <= self.for_tokens <= 65_536):
            raise InputError(f"rule: 'for {self.for_tokens}': give a whole number of tokens "
                             "from 1 to 65536", field="rule")

    @property
    def stops(self) -> bool:
        return self.action == "stop"

    @property
    def span(self) -> int:
        """How many positions after a hold the action steers."""
        return 1 if self.for_tokens is None else self.for_tokens

    def to_text(self) -> str:
        """The canonical grammar text; parse_rule(rule.to_text()) == rule."""
        return (f"when {condition_text(self.condition)} then {action_text(self)}"
                + (f" for {self.for_tokens}" if self.for_tokens is not None else ""))

    def describe(self, label_of: LabelOf | None = None) -> str:
        """In plain words: 'when #12 German text is above 3.5, add #40 +8 for 5 tokens'."""
        when = describe_condition(self.condition, label_of)
        if self.stops:
            return f"when {when}, stop"
        what = ", ".join(_describe_steer(f, self.unit, label_of) for f in self.action)
        how = (" for as long as it holds" if self.for_tokens is None
               else f" for {self.for_tokens} token{'s' if self.for_tokens != 1 else ''}")
        return f"when {when}, {what}{how}"


def num(value: float) -> str:
    """A number as short as it can be written and read back exactly."""
    v = float(value)
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def quote(text: str, delim: str) -> str:
    """`text` between `delim`s, the delimiter (and for words, the backslash) escaped."""
    if delim == "/":
        return f"/{text}/"          # stored escaped already (TextCondition)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def condition_text(c: Condition) -> str:
    if isinstance(c, FeatureCondition):
        return f"{c.index}{c.op}{num(c.value)}{'x' if c.unit == 'max' else ''}"
    if isinstance(c, ClassifierCondition):
        plain = re.fullmatch(r"[^\s\"<>;\\]+", c.path) is not None
        return f"classifier {c.path if plain else quote(c.path, chr(34))}{c.op}{num(c.value)}"
    return f"text {quote(c.pattern, '/' if c.regex else chr(34))}"


def action_text(rule: Rule) -> str:
    if rule.stops:
        return "stop"
    x = "x" if rule.unit == "max" else ""
    items = []
    for f in rule.action:
        if f.mode == "ablate":
            items.append(f"{f.index}=ablate")
        elif f.mode == "clamp":
            items.append(f"{f.index}=clamp:{num(f.strength)}{x}")
        else:
            items.append(f"{f.index}={num(f.strength)}{x}")
    return ",".join(items)


def _name(index: int, label_of: LabelOf | None) -> str:
    return f"#{index} {(label_of(index) if label_of else None) or ''}".rstrip()


def describe_condition(c: Condition, label_of: LabelOf | None = None) -> str:
    if isinstance(c, FeatureCondition):
        side = "above" if c.op == ">" else "below"
        return (f"{_name(c.index, label_of)} is {side} {num(c.value)}"
                f"{'x max' if c.unit == 'max' else ''}")
    if isinstance(c, ClassifierCondition):
        side = "above" if c.op == ">" else "below"
        return f"classifier {c.path} scores {side} {num(c.value)}"
    if c.regex:
        return f"the text so far matches /{c.pattern}/"
    return f'the text so far has the word "{c.pattern}"'


def _describe_steer(f: FeatureSteer, unit: str, label_of: LabelOf | None) -> str:
    name = _name(f.index, label_of)
    suffix = "x max" if unit == "max" else ""
    if f.mode == "ablate":
        return f"ablate {name}"
    if f.mode == "clamp":
        return f"clamp {name} to {num(f.strength)}{suffix}"
    return f"add {name} {'+' if f.strength >= 0 else ''}{num(f.strength)}{suffix}"


def parse_rule(text: str) -> Rule:
    from steerdesk.engine.rule_grammar import parse_rule as parse

    return parse(text)


def parse_rules(text: str) -> list[Rule]:
    from steerdesk.engine.rule_grammar import parse_rules as parse

    return parse(text)
