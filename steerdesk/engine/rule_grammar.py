"""Reading rules from text (the CLI's --rule, presets, the app's rule editor).

    when 12>3.5 then 40=8                 when feature 12 is above 3.5 (raw), add 8 to #40
    when 12>3.5 then 40=8,7=-2 for 5      ... and hold it for 5 tokens after each hold
    when 12<0.2x then 40=clamp:3          'x': in multiples of the feature's max activation
    when classifier spam.json>0.8 then 9=ablate
    when text "bridge" then stop          a whole word, any case
    when text /br[iy]dge/ then 40=4       a regular expression ('\\/' for a slash in it)
    when 12>3 then 40=2x                  action strengths in x max: every strength ends in x

Several rules joined with ';' form one variant. Action items are --steer's (parse_spec).
"""

from __future__ import annotations

import re

from steerdesk.engine.errors import InputError
from steerdesk.engine.rules import (
    EXAMPLE,
    ClassifierCondition,
    FeatureCondition,
    Rule,
    TextCondition,
)
from steerdesk.engine.steering import _NUM, parse_spec

_NUM_RE = re.compile(_NUM)
_FOR = re.compile(r"^(?P<action>.*?)\s+for\s+(?P<n>\S+)(?:\s+tokens?)?\s*$", re.IGNORECASE | re.S)
_X_ITEM = re.compile(r"^(?P<body>.*[\d.])\s*x$", re.S)


class _Bad(Exception):
    """What is wrong, in words; parse_rules names the rule around it."""


class _Scanner:
    def __init__(self, text: str):
        self.s, self.i = text, 0

    def ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def word(self, w: str) -> bool:
        """Consume keyword `w` (any case) when it is next, as a whole word."""
        self.ws()
        end = self.i + len(w)
        if self.s[self.i:end].lower() == w and not (end < len(self.s) and
                                                    (self.s[end].isalnum() or self.s[end] == "_")):
            self.i = end
            return True
        return False

    def number(self, what: str) -> float:
        self.ws()
        m = _NUM_RE.match(self.s, self.i)
        if not m:
            raise _Bad(f"{what} needs a number after the comparison")
        self.i = m.end()
        return float(m.group())

    def op(self, what: str) -> str:
        self.ws()
        c = self.peek()
        if c not in ("<", ">"):
            raise _Bad(f"{what} needs > or < then a number")
        self.i += 1
        return c

    def delimited(self, delim: str) -> str:
        """The text up to the closing `delim`: for '/', verbatim (a backslash keeps the next
        character, so '\\/' stays in); for '"', with '\\"' and '\\\\' unescaped."""
        self.i += 1
        out = []
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "\\" and self.i + 1 < len(self.s):
                nxt = self.s[self.i + 1]
                out.append(c + nxt if delim == "/" or nxt not in ('"', "\\") else nxt)
                self.i += 2
            elif c == delim:
                self.i += 1
                return "".join(out)
            else:
                out.append(c)
                self.i += 1
        raise _Bad(f"the closing {delim} is missing")


def _condition(sc: _Scanner):
    if sc.word("text"):
        sc.ws()
        c = sc.peek()
        if c not in ('"', "/"):
            raise _Bad('text needs a "word" or a /regular expression/')
        return TextCondition(sc.delimited(c), regex=c == "/")
    if sc.word("classifier"):
        sc.ws()
        if sc.peek() == '"':
            path = sc.delimited('"')
        else:
            start = sc.i
            while sc.i < len(sc.s) and not sc.s[sc.i].isspace() and sc.s[sc.i] not in "<>;":
                sc.i += 1
            path = sc.s[start:sc.i]
        if not path:
            raise _Bad("classifier needs the classifier file's path")
        op = sc.op(f"classifier {path}")
        return ClassifierCondition(path, sc.number(f"classifier {path}"), op)
    sc.ws()
    if sc.peek() == "#":
        sc.i += 1
    m = re.compile(r"\d+").match(sc.s, sc.i)
    if not m:
        raise _Bad("the condition is a feature (12>3.5), classifier FILE>0.8, or "
                   'text "word" or text /regex/')
    sc.i = m.end()
    index = int(m.group())
    op = sc.op(f"feature {index}")
    value = sc.number(f"feature {index}")
    unit = "raw"
    if sc.peek().lower() == "x":
        sc.i += 1
        unit = "max"
    return FeatureCondition(index, op, value, unit)


def _action(text: str) -> tuple[tuple, str]:
    """(features, unit) of `40=8,7=clamp:2`, or (("stop"), "raw"). Strengths ending in 'x' are
    in x max; one action has one unit."""
    items, units = [], set()
    for item in text.split(","):
        item = item.strip()
        m = _X_ITEM.match(item)
        if m and "=" in item:
            item = m.group("body")
            units.add("max")
        elif not item.lower().endswith("ablate"):
            units.add("raw")
        items.append(item)
    if len(units) > 1:
        raise _Bad("give every strength of one action in the same unit (all raw, or all "
                   "ending in x for x max)")
    unit = units.pop() if units else "raw"
    try:
        spec = parse_spec(",".join(items), "add", unit)
    except InputError as exc:
        raise _Bad(f"the action {text.strip()!r} is not features to steer like "
                   "40=8,7=clamp:3,9=ablate, nor 'stop' "
                   f"({exc.message.split(': ', 1)[-1]})") from None
    return tuple(spec.features), unit


def _one(sc: _Scanner) -> Rule:
    if not sc.word("when"):
        raise _Bad("a rule starts with 'when'")
    condition = _condition(sc)
    if not sc.word("then"):
        raise _Bad("the condition is followed by 'then' and an action")
    end = sc.s.find(";", sc.i)
    end = len(sc.s) if end < 0 else end
    rest, sc.i = sc.s[sc.i:end], end
    for_tokens = None
    m = _FOR.match(" " + rest)
    if m:
        rest = m.group("action")
        if not re.fullmatch(r"\d+", m.group("n")):
            raise _Bad(f"'for {m.group('n')}': give a whole number of tokens")
        for_tokens = int(m.group("n"))
    if not rest.strip():
        raise _Bad("'then' needs an action: features to steer (40=8) or stop")
    if rest.strip().lower() == "stop":
        return Rule(condition, "stop", for_tokens=for_tokens)
    action, unit = _action(rest)
    return Rule(condition, action, unit, for_tokens)


def _named(text: str, problem: str) -> InputError:
    shown = text if len(text) <= 80 else text[:77] + "..."
    return InputError(f"rule {shown!r}: {problem}; for example: {EXAMPLE}", field="rule")


def parse_rules(text: str) -> list[Rule]:
    """Rules joined with ';' (one variant). Bad text: one InputError naming the rule."""
    if not isinstance(text, str):
        raise InputError(f"rule {text!r}: a rule is text; for example: {EXAMPLE}", field="rule")
    sc, rules = _Scanner(text), []
    while True:
        start = sc.i
        try:
            rules.append(_one(sc))
        except (_Bad, InputError) as exc:
            raise _named(text[start:].strip().split(";")[0] or text, str(exc)) from None
        sc.ws()
        if sc.peek() == ";":
            sc.i += 1
            sc.ws()
            if not sc.peek():
                break
            continue
        if sc.peek():
            raise _named(text, f"unexpected {sc.s[sc.i:sc.i + 20]!r}")
        break
    return rules


def parse_rule(text: str) -> Rule:
    rules = parse_rules(text)
    if len(rules) != 1:
        raise _named(text, f"this is {len(rules)} rules, where one is expected")
    return rules[0]
