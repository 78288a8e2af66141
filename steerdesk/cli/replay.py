"""`generate --replay RUN.json`: rerun a run from its --json record.

The record names the model and SAE with the hashes of their files, the hook, device, dtype,
threads, sampling and every column's raw strengths. The rerun checks the files first (one line
naming the check that failed, exit 2), steers with the recorded raw strengths (so another
catalog beside the SAE changes nothing, and is only mentioned), and compares its tokens with the
recorded ones: exit 0 when every column matches, 1 with the first difference when not.
--model/--sae/--device/--dtype/--threads given on the command line replace the recorded ones
(the hashes are still checked)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from steerdesk.cli.common import SCHEMA, open_session_from_args, wants_json, warn
from steerdesk.engine.errors import InputError


def read_record(path: str | Path) -> dict[str, Any]:
    p = Path(path).expanduser()
    try:
        record = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{p}: no such run record") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"{p}: not a readable JSON run record ({exc})") from None
    if not isinstance(record, dict) or record.get("command") != "generate":
        raise InputError(f"{p}: not the record of a steerdesk generate run (no "
                         "\"command\": \"generate\"); make one with generate --json")
    if record.get("schema") != SCHEMA:
        raise InputError(f"{p}: a record of schema {record.get('schema')!r}; this steerdesk "
                         f"reads schema {SCHEMA}")
    return record


def _get(record: dict, *keys: str, where: str):
    value: Any = record
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise InputError(f"{where}: the record has no {'.'.join(keys)}")
        value = value[key]
    return value


def check_files(record: dict, model: str, sae: str, where: str) -> None:
    """The model's and the SAE's files hash as the record says, or one line says which not."""
    from steerdesk.engine.fingerprint import content_sha256

    for what, path in (("model", model), ("sae", sae)):
        name = {"model": "model", "sae": "SAE"}[what]
        want = _get(record, "session", what, "sha256", where=where)
        if not Path(path).expanduser().exists():
            raise InputError(f"replay of {where}: the {name} {path} is not there any more",
                             field=what,
                             cli_hint=f"say where it is now with --{what} PATH")
        have = content_sha256(path)
        if want and have != want:
            raise InputError(f"replay of {where}: the {name} "
                             f"files at {path} differ from the run's (sha256 {have[:12]}, the "
                             f"record says {want[:12]})", field=what)


def variant_from_column(column: dict, where: str):
    """A recorded steered column as a spec in raw units, the strengths the run applied."""
    from steerdesk.engine.steering import FeatureSteer, SteeringSpec

    steering = column.get("steering") or {}
    try:
        features = [FeatureSteer(int(f["index"]), float(f["raw_strength"]), str(f["mode"]),
                                 f.get("label") or "") for f in steering["features"]]
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{where}: column {column.get('name')!r} has no readable steering "
                         "features (index, mode, raw_strength)") from None
    texts = steering.get("rules") or []
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise InputError(f"{where}: column {column.get('name')!r}: 'rules' is not a list of "
                         "rule texts")
    from steerdesk.engine.rules import parse_rule

    return SteeringSpec(features, unit="raw", name=str(column.get("name", "")),
                        rules=[parse_rule(t) for t in texts],
                        vectors=recorded_vectors(steering, column, where))


def recorded_vectors(steering: dict, column: dict, where: str) -> list:
    """The column's steering vectors, rebuilt from the record (which holds them whole)."""
    from steerdesk.engine.diffmean import vector_from_json
    from steerdesk.engine.steering import VectorSteer

    raw = steering.get("vectors") or []
    if not isinstance(raw, list):
        raise InputError(f"{where}: column {column.get('name')!r}: steering.vectors is not a list")
    out = []
    for n, item in enumerate(raw):
        at = f"{where}: column {column.get('name')!r} steering.vectors[{n}]"
        if not isinstance(item, dict) or isinstance(item.get("strength"), bool) \
                or not isinstance(item.get("strength"), (int, float)):
            raise InputError(f"{at} has no numeric strength")
        out.append(VectorSteer(vector_from_json(item.get("vector"), f"{at}.vector"),
                               float(item["strength"])))
    return out


def _version_notes(record: dict) -> None:
    from steerdesk.engine.provenance import versions

    now = versions()
    for name in ("steerdesk", "torch", "transformers"):
        then = (record.get("versions") or {}).get(name)
        if then and then != now.get(name):
            warn(f"the run used {name} {then}, this is {now.get(name)}: tokens may differ")


def _catalog_note(record: dict, session) -> None:
    from steerdesk.engine.provenance import catalog_record

    used = [c["steering"].get("catalog") for c in record.get("columns", [])
            if c.get("steering") and c["steering"].get("unit") == "max"]
    now = catalog_record(session.catalog)
    if used and used[0] and (now is None or now.get("stats_sha256") != used[0].get("stats_sha256")):
        warn("the catalog beside the SAE is not the one the run's 'x max' strengths came from; "
             "the recorded raw strengths are used, so this changes nothing")


def first_difference(record: dict, result) -> str | None:
    """Where the rerun's tokens first differ from the record's, in words; None if nowhere."""
    columns = record.get("columns", [])
    if len(columns) != len(result.rows):
        return f"the record has {len(columns)} columns, the rerun {len(result.rows)}"
    for column, row in zip(columns, result.rows):
        then = [t.get("id") for t in column.get("tokens", [])]
        now = [t.token_id for t in row.tokens]
        if then != now:
            at = next((i for i, (a, b) in enumerate(zip(then, now)) if a != b),
                      min(len(then), len(now)))
            return (f"column {column.get('name')!r} differs from the record at new token {at} "
                    f"({len(now)} tokens now, {len(then)} then)")
    return None


def replay(args: argparse.Namespace) -> int:
    from steerdesk.cli.generate import report
    from steerdesk.engine.generation import GenerationRequest, generate
    from steerdesk.engine.session_spec import SessionSpec

    where = str(args.replay)
    record = read_record(args.replay)
    given = [flag for flag, dest, default in getattr(args, "_run_options", [])
             if getattr(args, dest) != default]
    if given:
        warn(f"{', '.join(given)}: not used with --replay, which reruns the record's own prompt, "
             "steering, sampling and readout")
    session_rec = _get(record, "session", where=where)
    model = args.model or _get(session_rec, "model", "path", where=where)
    sae = args.sae or _get(session_rec, "sae", "path", where=where)
    check_files(record, model, sae, where)
    hook = _get(session_rec, "hook", where=where)
    spec = SessionSpec(
        model=model, sae=sae,
        hook=args.hook or (hook["name"] if hook.get("name") != hook.get("in_files") else None),
        device=args.device if args.device != "auto" else session_rec["model"].get("device", "auto"),
        dtype=args.dtype if args.dtype != "auto" else session_rec["model"].get("dtype", "auto"),
        allow_pickle=args.allow_pickle, trust_remote_code=args.trust_remote_code)
    if args.threads is None:
        args.threads = (record.get("run") or {}).get("threads")
    s, p, r = (_get(record, key, where=where) for key in ("sampling", "prompt", "readout"))
    columns = record.get("columns", [])
    steered = [c for c in columns[1:] if c.get("kind") != "prompted"]
    prompted = [c.get("prompted") for c in columns[1:] if c.get("kind") == "prompted"]
    try:
        request = GenerationRequest(
            prompt=p["text"], variants=[variant_from_column(c, where) for c in steered],
            prompted=prompted[0] if prompted else None,
            max_new_tokens=s["max_new_tokens"], temperature=s["temperature"], top_k=s["top_k"],
            top_p=s["top_p"], repetition_penalty=s["repetition_penalty"], seed=s["seed"],
            stop_at_eos=s.get("stop_at_eos", True), chat=p["chat"],
            watch=[w["index"] for w in r["watch"]], top_k_features=r["top_features_per_token"],
            prompt_logprobs=r.get("prompt_logprobs", False),
            positions=steered[0]["steering"].get("positions", "all") if steered else "all")
    except (KeyError, TypeError, IndexError) as exc:
        raise InputError(f"{where}: the record lacks a setting it needs ({exc})") from None
    request.validate()
    _version_notes(record)
    args.chat = request.chat
    session = open_session_from_args(args, quiet=wants_json(args), spec=spec)
    _catalog_note(record, session)
    result = generate(session, request)
    difference = first_difference(record, result)
    report(args, session, request, result,
           extra={"replay": {"of": where, "reproduced": difference is None,
                             "difference": difference}})
    if difference:
        print(f"steerdesk: replay: {difference}", file=sys.stderr)
        return 1
    print(f"steerdesk: replay: every column's tokens are the record's ({len(result.rows)} "
          "columns)", file=sys.stderr)
    return 0
