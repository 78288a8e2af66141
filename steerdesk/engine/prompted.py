"""The prompted column: the same prompt with an instruction ("Answer in German"), unsteered,
decoded beside the baseline and the steered rows in the same `stream()`, as the last row.

Prompting is the yardstick steering has to beat (AxBench found it often wins), so it is shown
on the user's own model with its costs. The instruction goes before the prompt, a blank line
between them: in chat mode as the user turn ("INSTRUCTION\\n\\nPROMPT" is the message), in
completion mode as a prefix of the text the model continues.

Why it is not one more row of the main batch: its prompt is longer, so it would need padding,
an attention mask and shifted positions for the other rows. Those change the other rows'
arithmetic (another batch size, masked attention), and the baseline and steered rows would no
longer be bit for bit what they are without the prompted column. So it runs as its own one-row
batch with its own KV cache, advanced one token per step inside the same loop (it streams with
the others). It is sampled with the same seed: `CoupledSampler` draws one `torch.rand(vocab)`
per step from a generator seeded with it, so it gets the same noise as the other rows, and its
text is what a plain run of the instructed prompt with that seed gives.

The steering hook is installed once per generation and checks its row count, so one function
sits at the hook point (`HookSwitch`) and hands each pass to the hook it belongs to: the main
rows' `SteeringHook`, or the prompted row's own variant-free `SteeringHook`, which steers
nothing and reads the watched features (for reach) as the main hook reads the others'.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

import torch

from steerdesk.engine.errors import InputError
from steerdesk.engine.generation import GenerationRequest, RowToken, _Forward
from steerdesk.engine.prompt_text import IncrementalText, encode_prompt
from steerdesk.engine.sampling import CoupledSampler
from steerdesk.engine.steering import SteeringHook

NAME_PREFIX = "prompted: "
COMPILE_REASON = ("the prompted column decodes eagerly beside the others, and the compiled "
                  "step's own hook would see its passes")


def instructed_prompt(instruction: str, prompt: str) -> str:
    """The prompted column's prompt: the instruction, a blank line, then the prompt."""
    return f"{instruction.strip()}\n\n{prompt}"


def row_name(instruction: str) -> str:
    return NAME_PREFIX + instruction.strip()


def check_instruction(instruction: str | None) -> None:
    if instruction is not None and not isinstance(instruction, str):
        raise InputError(f"the prompted column's instruction must be text, not {instruction!r}",
                         field="prompted")
    if instruction is not None and not instruction.strip():
        raise InputError("the prompted column's instruction is empty; give one such as "
                         "'Answer in German', or leave the prompted column out", field="prompted")


class HookSwitch:
    """The one function at the hook point. `main` serves the baseline and steered rows' passes,
    `side` the prompted row's (`with switch.prompted():`); None leaves that pass unchanged."""

    def __init__(self, main: Callable | None, side: Callable | None):
        self.main, self.side = main, side
        self.prompted_pass = False

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor | None:
        fn = self.side if self.prompted_pass else self.main
        return fn(hidden) if fn is not None else None

    @contextmanager
    def prompted(self):
        self.prompted_pass = True
        try:
            yield
        finally:
            self.prompted_pass = False


class PromptedRow:
    """The prompted row's own prompt, cache, sampler and text, stepped by `stream()`."""

    def __init__(self, session, request: GenerationRequest):
        self.session, self.request = session, request
        self.instruction = request.prompted.strip()
        self.name = row_name(self.instruction)
        self.ids, self.used_template = encode_prompt(
            session.tokenizer, instructed_prompt(self.instruction, request.prompt), request.chat)
        # Steers nothing (no variants); reads what the main rows read.
        self.hook = SteeringHook(session.sae, [], positions=request.positions,
                                 max_acts=session.max_acts, watch=request.watch,
                                 top_k=request.top_k_features)
        self.forward = _Forward(session.model)
        self.decoder = IncrementalText(session.tokenizer)
        self.finished = False
        self.past = self.logits = self.pending = self.sampler = None
        self.switch: HookSwitch | None = None

    @property
    def side(self) -> SteeringHook | None:
        """What the switch calls on this row's passes: its hook, where it reads anything."""
        return self.hook if self.hook.reads else None

    def _pass(self, input_ids: torch.Tensor, prompt: bool = False):
        if self.switch is None:
            return self.forward(input_ids, self.past, prompt=prompt)
        with self.switch.prompted():
            return self.forward(input_ids, self.past, prompt=prompt)

    def prefill(self, switch: HookSwitch | None) -> None:
        """The instructed prompt's pass, and the sampler seeded as the main rows' is."""
        self.switch = switch
        device = self.session.lm.device
        prompt = torch.tensor([self.ids], dtype=torch.long, device=device)
        self.past, self.logits = self._pass(prompt, prompt=True)
        self.hook.in_prefill = False
        self.sampler = CoupledSampler(self.request, 1, self.logits.shape[-1], device, prompt[0])

    def prompt_readout(self) -> tuple[list, list]:
        """([position][watched], [position][(index, activation)]) over the instructed prompt."""
        n = len(self.ids)
        watch = self.hook.last_watch[0].tolist() if self.request.watch else [[] for _ in range(n)]
        if self.hook.top_k:
            values, indices = self.hook.last_top
            top = [list(zip(i, v)) for i, v in zip(indices[0].tolist(), values[0].tolist())]
        else:
            top = [[] for _ in range(n)]
        return watch, top

    def prompt_logprobs(self) -> list[float | None]:
        """Each instructed-prompt token's log-prob under the unsteered model (None first)."""
        prompt = torch.tensor([self.ids], dtype=torch.long, device=self.session.lm.device)
        with torch.inference_mode():
            if self.switch is not None:
                with self.switch.prompted():
                    logits = self.session.model(input_ids=prompt, use_cache=False).logits
            else:
                logits = self.session.model(input_ids=prompt, use_cache=False).logits
        lp = torch.log_softmax(logits[0, :-1].float(), dim=-1).gather(
            -1, prompt[0, 1:].unsqueeze(-1)).squeeze(-1)
        return [None, *lp.tolist()]

    def add_to(self, event) -> None:
        """Its row, last, in the stream's PromptEvent: name, prompt readout, prompt tokens."""
        watch, top = self.prompt_readout()
        event.prompted_row = len(event.row_names)
        event.row_names.append(self.name)
        event.activations = [*event.activations, watch]
        event.top_features = [*event.top_features, top]
        if event.logprobs is not None:
            event.logprobs = [*event.logprobs, self.prompt_logprobs()]
        event.prompted_token_ids = list(self.ids)
        tok = self.session.tokenizer
        event.prompted_token_texts = [tok.decode([i], skip_special_tokens=False)
                                      for i in self.ids]

    def step(self, step: int, eos: set[int]) -> RowToken:
        """This step's token, as the main loop makes the others' (its forward pass now where
        the readout needs it, else at the next step)."""
        if self.finished:
            return RowToken(None, "", None, [], [], True)
        if self.pending is not None:
            self.past, self.logits = self._pass(self.pending.unsqueeze(1))
            self.pending = None
        tokens, logprobs = self.sampler(self.logits)
        tid = int(tokens[0])
        done = tid in eos
        if step + 1 < self.request.max_new_tokens or self.hook.reads:   # as the main rows
            if self.hook.reads:
                self.past, self.logits = self._pass(tokens.unsqueeze(1))
            else:
                self.pending = tokens
        acts = self.hook.last_watch[0, -1].tolist() if self.request.watch else []
        top = []
        if self.hook.top_k:
            values, indices = self.hook.last_top
            top = list(zip(indices[0, -1].tolist(), values[0, -1].tolist()))
        piece = "" if done else self.decoder.push(tid)
        self.finished = done
        return RowToken(tid, piece, float(logprobs[0]), acts, top, done)
