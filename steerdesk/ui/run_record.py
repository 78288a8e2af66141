"""One generation as the GUI sees it: per row, the tokens so far with their activations.

Events from the worker are appended here as they arrive (cheap); views redraw from it on a
timer, so a burst of tokens costs one repaint, not one per token."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from steerdesk.engine.generation import DoneEvent, PromptEvent, StepEvent


@dataclass
class TokenInfo:
    text: str
    token_id: int
    prob: float | None
    activations: list[float]             # watched features, in RunRecord.columns order
    top_features: list[tuple[int, float]]
    rules_held: list[int] = field(default_factory=list)     # the row's rules whose condition
    rules_acting: list[int] = field(default_factory=list)   # held here / that steered here


@dataclass
class RowRecord:
    name: str
    settings: str                        # human-readable steering of this row
    tokens: list[TokenInfo] = field(default_factory=list)
    finished: bool = False

    @property
    def text(self) -> str:
        return "".join(t.text for t in self.tokens)


@dataclass
class RunCosts:
    """What each column cost and reached, worked out on the worker after the stream
    (engine/costs.py): per row, {"perplexity", "reach", "reach_feature"}."""
    rows: list[dict]


@dataclass
class RunRecord:
    prompt: str
    watch: list[int]
    row_settings: list[str]              # one per row: baseline first
    row_titles: list[str]
    chat_requested: bool = False         # the prompt was to go through the chat template
    compile_requested: bool = False      # Run > Compiled decoding was on
    specs: list = field(default_factory=list)   # SteeringSpec of each steered row (row 1 on)
    unit: str = "raw"                    # the slider's unit when it ran: the plots' y axis
    sampling: Any = None                 # run_setup.Sampling, for exports
    prompt_tokens: list[str] = field(default_factory=list)
    rows: list[RowRecord] = field(default_factory=list)
    done: DoneEvent | None = None
    chat_template_used: bool = False
    prompt_cut: int = 0                  # tokens cut from the prompt's start to fit
    context: int | None = None           # the model's positions, where known
    version: int = 0                     # bumped on every change; views compare to redraw
    classifier: Any = None               # catalog.Classifier scoring each row, or None
    # Every watched feature, as the request asked: `watch` (the steered ones, plotted) first,
    # then the classifier's features not among them. Activations come in this order.
    columns: list[int] = field(default_factory=list)
    prompted: str | None = None          # the prompted column's instruction (its row is last)
    reach_max: float | None = None       # the catalog's max activation of watch[0]: 'x max'
    costs: list[dict] | None = None      # RunCosts.rows, once the run has ended

    @property
    def prompted_row(self) -> int | None:
        return len(self.rows) - 1 if self.prompted is not None else None

    def __post_init__(self):
        self.rows = [RowRecord(t, s) for t, s in zip(self.row_titles, self.row_settings)]
        if not self.columns:
            self.columns = list(self.watch)

    def add(self, event) -> None:
        if isinstance(event, PromptEvent):
            self.prompt_tokens = list(event.token_texts)
            self.chat_template_used = event.chat_template_used
            self.prompt_cut, self.context = event.prompt_cut, event.context
        elif isinstance(event, StepEvent):
            for row, tok in zip(self.rows, event.rows):
                if tok.token_id is None:
                    continue
                if tok.finished:
                    row.finished = True
                    continue  # the end-of-text token: no text, not plotted
                prob = None if tok.logprob is None else math.exp(tok.logprob)
                row.tokens.append(TokenInfo(tok.text, tok.token_id, prob,
                                            list(tok.activations), list(tok.top_features),
                                            list(tok.rules_held), list(tok.rules_acting)))
        elif isinstance(event, DoneEvent):
            self.done = event
        elif isinstance(event, RunCosts):
            self.costs = event.rows
        self.version += 1

    def activation_series(self, row: int, feature: int) -> list[float]:
        if feature not in self.columns:
            return []
        col = self.columns.index(feature)
        return [t.activations[col] if col < len(t.activations) else 0.0
                for t in self.rows[row].tokens]

    def peak(self, feature: int) -> float:
        """Largest activation of `feature` over all rows: the full tint."""
        values = [v for r in range(len(self.rows)) for v in self.activation_series(r, feature)]
        return max(values, default=0.0)

    def acting_spans(self, row: int) -> list[tuple[int, int]]:
        """The runs of token positions [start, end) where one of the row's rules steered."""
        spans: list[tuple[int, int]] = []
        for n, tok in enumerate(self.rows[row].tokens):
            if not tok.rules_acting:
                continue
            if spans and spans[-1][1] == n:
                spans[-1] = (spans[-1][0], n + 1)
            else:
                spans.append((n, n + 1))
        return spans

    def row_score(self, row: int) -> float | None:
        """The classifier's P(its first set) for row `row`'s tokens so far, each of its
        features pooled (max or mean, as it was trained) over them; None before a token."""
        clf = self.classifier
        if clf is None or not self.rows[row].tokens:
            return None
        pooled = []
        for feature in clf.features:
            series = self.activation_series(row, feature)
            pooled.append(max(series) if clf.pool == "max" else sum(series) / len(series))
        return clf.score_values(pooled)

    def reach(self, row: int) -> float | None:
        """How strongly the steered feature fired in row `row`: the classifier's score where
        one scores the columns, else the first steered feature's mean activation over the
        generated tokens, in x max where the catalog has its max; None without either."""
        if self.classifier is not None:
            return self.row_score(row)
        if self.costs is None or not self.watch or row >= len(self.costs):
            return None
        value = self.costs[row]["reach"]
        if value is None or self.reach_max is None:
            return value
        return value / self.reach_max
