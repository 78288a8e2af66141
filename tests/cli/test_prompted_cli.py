"""`generate --prompted` and `--prompted-from-preset`: the prompted column in the JSON record and
in the text output, with its costs; bad combinations exit 2 with one line."""

import json
import math

import torch

INSTR = "Der schnelle Fuchs"


def _base(tiny):
    model, sae = tiny
    return ["generate", "--model", model, "--sae", sae, "--prompt", "hello world",
            "--max-new-tokens", "6", "--temperature", "1.2", "--seed", "4"]


def _preset(tmp_path, prompt_equivalent=None):
    data = {"name": "three", "unit": "raw",
            "features": [{"index": 3, "mode": "add", "strength": 6.0}]}
    if prompt_equivalent is not None:
        data["prompt_equivalent"] = prompt_equivalent
    path = tmp_path / f"three-{prompt_equivalent is not None}.json"
    path.write_text(json.dumps(data))
    return path


def _ppl(model_dir, prompt_ids, new_ids):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    ids = torch.tensor([prompt_ids + new_ids])
    with torch.no_grad():
        lp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
    p = len(prompt_ids)
    return math.exp(-sum(float(lp[i - 1, ids[0, i]]) for i in range(p, ids.shape[1]))
                    / len(new_ids))


def test_json_has_the_prompted_column_last_with_its_own_prompt_and_costs(cli, tiny):
    run = cli(*_base(tiny), "--steer", "3=6", "--watch", "3", "--prompted", INSTR, "--json")
    assert run.code == 0, run.err
    out = json.loads(run.out)
    cols = out["columns"]
    assert [c["kind"] for c in cols] == ["baseline", "steered", "prompted"]
    col = cols[-1]
    assert col["prompted"] == INSTR and col["name"] == "prompted: " + INSTR
    assert col["steering"] is None
    alone = json.loads(cli(*_base(tiny)[:-6], "--prompt", INSTR + "\n\nhello world",
                           "--max-new-tokens", "6", "--temperature", "1.2", "--seed", "4",
                           "--watch", "3", "--json").out)
    assert [t["id"] for t in col["tokens"]] == [t["id"] for t in alone["columns"][0]["tokens"]]
    assert col["prompt_token_ids"] == [t["id"] for t in alone["prompt"]["tokens"]]
    assert len(col["prompt_tokens"]) == len(col["prompt_token_ids"])
    new = [t["id"] for t in col["tokens"]]
    assert math.isclose(col["metrics"]["perplexity"], _ppl(tiny[0], col["prompt_token_ids"], new),
                        rel_tol=1e-4)
    reach = sum(t["watched"][0]["activation"] for t in col["tokens"]) / len(new)
    assert math.isclose(col["metrics"]["reach"], reach, rel_tol=1e-6)
    # The other columns are those of the run without it.
    plain = json.loads(cli(*_base(tiny), "--steer", "3=6", "--watch", "3", "--json").out)
    for a, b in zip(plain["columns"], cols):
        assert [t["id"] for t in a["tokens"]] == [t["id"] for t in b["tokens"]]
        assert [t["logprob"] for t in a["tokens"]] == [t["logprob"] for t in b["tokens"]]


def test_text_output_shows_the_prompted_column_with_its_instruction_and_costs(cli, tiny):
    run = cli(*_base(tiny), "--steer", "3=6", "--watch", "3", "--prompted", INSTR)
    assert run.code == 0, run.err
    record = json.loads(cli(*_base(tiny), "--steer", "3=6", "--watch", "3", "--prompted", INSTR,
                            "--json").out)
    blocks = run.out.split("=== ")[1:]
    assert [b.splitlines()[0] for b in blocks] == [c["name"] for c in record["columns"]]
    last = blocks[-1]
    assert (INSTR + "\n\nhello world" + record["columns"][-1]["text"]) in last
    for block, col in zip(blocks, record["columns"]):
        m = col["metrics"]
        assert f"perplexity under the unsteered model: {m['perplexity']:.2f}" in block
        assert f"reach (mean activation of #3): {m['reach']:.3f}" in block


def test_prompted_from_preset_uses_its_prompt_equivalent(cli, tiny, tmp_path):
    run = cli(*_base(tiny), "--preset", _preset(tmp_path, INSTR), "--prompted-from-preset",
              "--json")
    assert run.code == 0, run.err
    cols = json.loads(run.out)["columns"]
    assert [c["kind"] for c in cols] == ["baseline", "steered", "prompted"]
    assert cols[-1]["prompted"] == INSTR


def test_replay_reruns_the_prompted_column(cli, tiny, tmp_path):
    run = cli(*_base(tiny), "--steer", "3=6", "--prompted", INSTR, "--json")
    record = tmp_path / "run.json"
    record.write_text(run.out)
    again = cli("generate", "--replay", record)
    assert again.code == 0, again.err
    assert "every column's tokens are the record's (3 columns)" in again.err


def test_bad_prompted_options_exit_2_with_one_line(cli, tiny, tmp_path):
    cases = [
        (["--prompted-from-preset"], "give --preset"),
        (["--preset", _preset(tmp_path), "--prompted-from-preset"], "has no prompt_equivalent"),
        (["--preset", _preset(tmp_path, INSTR), "--prompted-from-preset", "--prompted", "x"],
         "no --prompted with it"),
        (["--prompted", "  "], "instruction is empty"),
    ]
    for extra, words in cases:
        run = cli(*_base(tiny), *extra)
        assert run.code == 2, (extra, run.err)
        assert len(run.err_lines) == 1 and words in run.err_lines[0], run.err
