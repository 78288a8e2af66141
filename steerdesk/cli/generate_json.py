"""`generate --json`: the run's record, enough to rerun it (docs/json.md, "generate").

Per-token and per-column objects are built by one function each (`token_object`,
`column_object`), so that a new readout adds its keys in one place."""

from __future__ import annotations

from typing import Any

from steerdesk.cli.common import envelope
from steerdesk.engine.costs import row_metrics, row_prompt_ids
from steerdesk.engine.provenance import session_record, steering_record


def feature_values(indices, values) -> list[dict[str, Any]]:
    """[{"index", "activation"}] in the order given."""
    return [{"index": int(i), "activation": float(v)} for i, v in zip(indices, values)]


def has_rules(request) -> bool:
    return any(v.rules for v in request.variants)


def token_object(request, *, token_id=None, text=None, logprob=None, with_logprob=True,
                 watched=(), top=(), held=None, acting=None) -> dict[str, Any]:
    """One token: its id and text where there are some, its log-prob, the readout asked for
    (watched features in request.watch order, the top features by activation) and, in a run
    with rules, which of its column's rules held at it and which steered it."""
    item: dict[str, Any] = {}
    if token_id is not None:
        item["id"], item["text"] = token_id, text
    if with_logprob:
        item["logprob"] = logprob
    if request.watch:
        item["watched"] = feature_values(request.watch, watched)
    if request.top_k_features > 0:
        item["top_features"] = [{"index": int(i), "activation": float(v)} for i, v in top]
    if held is not None and has_rules(request):
        item["rules_held"], item["rules_acting"] = list(held), list(acting)
    return item


def _finish(row, done_reason: str, spec=None) -> str:
    if row.tokens and row.tokens[-1].finished:
        stopped = spec is not None and any(spec.rules[k].stops for k in row.tokens[-1].rules_held)
        return "rule" if stopped else "eos"
    if spec is not None and not row.tokens and any(r.stops for r in spec.rules):
        return "rule"   # a stop rule held at the prompt's last token
    return "cancelled" if done_reason == "cancelled" else "length"


def _costs(session, request, prompt_ids, row) -> dict[str, Any]:
    """perplexity: of the new tokens under the unsteered model (one scoring pass, after the
    run, when no steering hook is installed); reach: the first watched feature's mean over
    them (null without --watch). engine/costs.py defines both."""
    m = row_metrics(session, prompt_ids, row, request.watch)
    return {"perplexity": m["perplexity"], "reach": m["reach"]}


def column_object(session, request, spec, row, done_reason: str, prompt_ids=(),
                  prompted: bool = False) -> dict[str, Any]:
    """One column: baseline (spec None), steered, or `prompted` (the instructed prompt,
    unsteered: its prompt_tokens and its perplexity's context are its own prompt's), its text,
    tokens and metrics."""
    logprobs = [t.logprob for t in row.tokens if t.logprob is not None]
    prompt_lp = row.prompt_logprobs or [None] * len(row.prompt_activations)
    steering = None
    if spec is not None:
        steering = {**steering_record(spec, session), "positions": request.positions,
                    "rules": [rule.to_text() for rule in spec.rules]}
    kind = "prompted" if prompted else "baseline" if spec is None else "steered"
    extra = {"prompted": request.prompted} if prompted else {}
    return {
        "name": row.name, "kind": kind, **extra,
        "steering": steering, "text": row.text, "finish_reason": _finish(row, done_reason, spec),
        "metrics": {"new_tokens": len(row.tokens),
                    "mean_logprob": sum(logprobs) / len(logprobs) if logprobs else None,
                    **_costs(session, request, prompt_ids, row)},
        "tokens": [token_object(request, token_id=t.token_id, text=t.text, logprob=t.logprob,
                                watched=t.activations, top=t.top_features, held=t.rules_held,
                                acting=t.rules_acting) for t in row.tokens],
        "prompt_tokens": [token_object(request, logprob=lp, with_logprob=request.prompt_logprobs,
                                       watched=w, top=top)
                          for lp, w, top in zip(prompt_lp, row.prompt_activations,
                                                row.prompt_top_features)],
        **({"prompt_token_ids": list(prompt_ids)} if prompted else {}),
    }


def to_json(session, request, result, *, threads: int | None = None) -> dict[str, Any]:
    prompt, done = result.prompt, result.done
    specs = [None, *request.variants, None]   # the last None: the prompted row, if any
    return envelope(
        "generate",
        session=session_record(session),
        run={"threads": threads, "seconds": round(done.seconds, 4),
             "first_token_seconds": (round(done.first_token_seconds, 4)
                                     if done.first_token_seconds is not None else None),
             "finish_reason": done.reason, "decode": done.decode},
        sampling={"max_new_tokens": request.max_new_tokens, "temperature": request.temperature,
                  "top_k": request.top_k, "top_p": request.top_p,
                  "repetition_penalty": request.repetition_penalty, "seed": request.seed,
                  "stop_at_eos": request.stop_at_eos},
        prompt={"text": request.prompt, "chat": request.chat,
                "chat_template_used": prompt.chat_template_used,
                "tokens": [{"id": i, "text": t}
                           for i, t in zip(prompt.token_ids, prompt.token_texts)]},
        readout={"watch": [{"index": i, "label": session.label_of(i)} for i in request.watch],
                 "top_features_per_token": request.top_k_features,
                 "prompt_logprobs": request.prompt_logprobs},
        columns=[column_object(session, request, spec, row, done.reason,
                               row_prompt_ids(prompt, r), prompted=r == prompt.prompted_row)
                 for r, (spec, row) in enumerate(zip(specs, result.rows))],
    )
