"""`steerdesk generate` and `inspect` options, run in process and compared with the engine
called directly with what each option should mean. (Written by the tests helper against the
first JSON shape; ported to schema 1 of docs/json.md: `columns`, `sampling`, `--top-features`.)"""

import json

import pytest

from steerdesk.cli.main import main
from steerdesk.engine.catalog import features_on_text
from steerdesk.engine.generation import GenerationRequest, encode_prompt, generate
from steerdesk.engine.session import open_session
from steerdesk.engine.steering import FeatureSteer, SteeringSpec
from steerdesk.testing.tiny import make_model, make_sae

PROMPT = "the quick brown"
N = 5


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    """A model with a chat template, and an SAE with a presets folder beside it."""
    root = tmp_path_factory.mktemp("opts")
    model = make_model(root / "model", "llama", d=32, layers=2)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    tok.chat_template = ("{% for m in messages %}<u>{{ m['content'] }}</u>{% endfor %}"
                         "{% if add_generation_prompt %}<a>{% endif %}")
    tok.save_pretrained(model)
    sae = make_sae(root / "pack" / "sae", d_in=32, d_sae=48, arch="relu",
                   hook="blocks.1.hook_resid_post")
    (root / "pack" / "presets").mkdir()
    preset = {"name": "push five", "unit": "raw",
              "features": [{"index": 5, "mode": "add", "strength": 4.0},
                           {"index": 9, "mode": "clamp", "strength": 2.0},
                           {"index": 11, "mode": "add", "strength": 9.0, "enabled": False}]}
    (root / "pack" / "presets" / "push-five.json").write_text(json.dumps(preset))
    return model, sae, root / "pack" / "presets" / "push-five.json"


@pytest.fixture(scope="module")
def session(pack):
    model, sae, _ = pack
    return open_session(model, sae)


def cli(capsys, pack, *args):
    model, sae, _ = pack
    code = main(["generate", "--model", str(model), "--sae", str(sae), "--json",
                 "--max-new-tokens", str(N), *map(str, args)])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def engine(session, variants, **kw):
    kw.setdefault("max_new_tokens", N)
    watch = kw.pop("watch", sorted({f.index for v in variants for f in v.features}))
    return generate(session, GenerationRequest(PROMPT, variants, watch=watch, **kw))


def same_row(cli_row, row):
    assert [t["id"] for t in cli_row["tokens"]] == [t.token_id for t in row.tokens]
    assert [t["logprob"] for t in cli_row["tokens"]] == pytest.approx(
        [t.logprob for t in row.tokens], abs=1e-5)
    assert cli_row["text"] == row.text


def logprobs(row):
    return [t.logprob for t in row.tokens]


@pytest.mark.parametrize("mode", ["clamp", "ablate", "add"])
def test_mode(capsys, pack, session, mode):
    # A feature that fires on the prompt: clamping one that does not would be adding.
    hot = features_on_text(session, PROMPT, 1)[0][0]
    strength = 0.0 if mode == "ablate" else 6.0
    steer = str(hot) if mode == "ablate" else f"{hot}=6"
    out = cli(capsys, pack, "--prompt", PROMPT, "--steer", steer, "--mode", mode)
    baseline, steered = out["columns"]
    assert [{k: f[k] for k in ("index", "mode", "strength")}
            for f in steered["steering"]["features"]] == [
        {"index": hot, "mode": mode, "strength": strength}]
    want = engine(session, [SteeringSpec([FeatureSteer(hot, strength, mode)])])
    same_row(steered, want.rows[1])
    same_row(baseline, want.rows[0])
    if mode != "add":   # the mode made a difference: add would have given something else
        added = engine(session, [SteeringSpec([FeatureSteer(hot, strength or 6.0, "add")])])
        assert logprobs(added.rows[1]) != pytest.approx(logprobs(want.rows[1]), abs=1e-4)
    assert logprobs(want.rows[1]) != pytest.approx(logprobs(want.rows[0]), abs=1e-4)


def test_positions_generated(capsys, pack, session):
    out = cli(capsys, pack, "--prompt", PROMPT, "--steer", "7=8", "--positions", "generated")
    assert out["columns"][1]["steering"]["positions"] == "generated"
    spec = [SteeringSpec([FeatureSteer(7, 8.0)])]
    want = engine(session, spec, positions="generated")
    same_row(out["columns"][1], want.rows[1])
    everywhere = engine(session, spec, positions="all")
    assert logprobs(everywhere.rows[1]) != pytest.approx(logprobs(want.rows[1]), abs=1e-4)


@pytest.mark.parametrize("how", ["file", "name"])
def test_preset_adds_one_variant(capsys, pack, session, how):
    _, _, preset_file = pack
    value = preset_file if how == "file" else "Push Five"
    out = cli(capsys, pack, "--prompt", PROMPT, "--steer", "2=3", "--preset", value)
    steered = out["columns"][1:]
    assert [s["name"] for s in steered] == ["add #2 +3.00 raw", "push five"]
    assert [{k: f[k] for k in ("index", "mode", "strength")}
            for f in steered[1]["steering"]["features"]] == [
        {"index": 5, "mode": "add", "strength": 4.0}, {"index": 9, "mode": "clamp", "strength": 2.0}]
    want = engine(session, [SteeringSpec([FeatureSteer(2, 3.0)]),
                            SteeringSpec([FeatureSteer(5, 4.0), FeatureSteer(9, 2.0, "clamp")])],
                  watch=[2, 5, 9])
    same_row(steered[0], want.rows[1])
    same_row(steered[1], want.rows[2])


def test_chat_applies_the_template(capsys, pack, session):
    plain = cli(capsys, pack, "--prompt", PROMPT)
    chat = cli(capsys, pack, "--prompt", PROMPT, "--chat")
    assert chat["prompt"]["chat_template_used"] and not plain["prompt"]["chat_template_used"]
    ids, used = encode_prompt(session.tokenizer, PROMPT, chat=True)
    assert used and [t["id"] for t in chat["prompt"]["tokens"]] == ids
    assert session.tokenizer.decode(ids).endswith(f"<u>{PROMPT}</u><a>")
    assert [t["id"] for t in plain["prompt"]["tokens"]] == encode_prompt(
        session.tokenizer, PROMPT, chat=False)[0]
    same_row(chat["columns"][0], engine(session, [], chat=True).rows[0])


def test_sampling_options_reach_the_engine(capsys, pack, session):
    out = cli(capsys, pack, "--prompt", PROMPT, "--steer", "4=2", "--temperature", "1.3",
              "--top-p", "0.8", "--seed", "5", "--repetition-penalty", "1.7")
    assert {k: out["sampling"][k] for k in ("temperature", "top_p", "seed",
                                            "repetition_penalty")} == {
        "temperature": 1.3, "top_p": 0.8, "seed": 5, "repetition_penalty": 1.7}
    want = engine(session, [SteeringSpec([FeatureSteer(4, 2.0)])], temperature=1.3, top_p=0.8,
                  seed=5, repetition_penalty=1.7)
    same_row(out["columns"][0], want.rows[0])
    same_row(out["columns"][1], want.rows[1])


def test_top_features_json_lists_the_engines_top_features_at_every_token(capsys, pack, session):
    out = cli(capsys, pack, "--prompt", PROMPT, "--steer", "6=5", "--top-features", "3",
              "--watch", "6,8")
    want = engine(session, [SteeringSpec([FeatureSteer(6, 5.0)])], top_k_features=3,
                  watch=[6, 8])

    def check(items, tops):
        assert len(items) == len(tops)
        for item, top in zip(items, tops):
            assert [f["index"] for f in item["top_features"]] == [i for i, _ in top]
            assert [f["activation"] for f in item["top_features"]] == pytest.approx(
                [v for _, v in top], abs=1e-5)
    baseline, steered = out["columns"]
    check(baseline["prompt_tokens"], want.rows[0].prompt_top_features)
    check(steered["prompt_tokens"], want.rows[1].prompt_top_features)
    check(baseline["tokens"], [t.top_features for t in want.rows[0].tokens])
    check(steered["tokens"], [t.top_features for t in want.rows[1].tokens])
    assert all(len(t["top_features"]) == 3 for t in steered["tokens"])
    first = steered["tokens"][0]
    assert first["watched"] == [
        {"index": 6, "activation": pytest.approx(want.rows[1].tokens[0].activations[0])},
        {"index": 8, "activation": pytest.approx(want.rows[1].tokens[0].activations[1])}]
    plain = cli(capsys, pack, "--prompt", PROMPT, "--steer", "6=5")
    assert "top_features" not in plain["columns"][1]["tokens"][0]


@pytest.mark.parametrize("by", ["max", "mean"])
def test_inspect_by(capsys, pack, session, by):
    model, sae, _ = pack
    text = "hello world, the quick brown fox"
    code = main(["inspect", "--model", str(model), "--sae", str(sae), "--text", text,
                 "--limit", "6", "--by", by, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    got = json.loads(out.out)
    assert got["by"] == by
    want = features_on_text(session, text, 6, by)
    assert [f["index"] for f in got["features"]] == [i for i, _ in want]
    assert [f["activation"] for f in got["features"]] == pytest.approx([v for _, v in want], abs=1e-6)
    other = features_on_text(session, text, 6, "mean" if by == "max" else "max")
    assert [v for _, v in other] != pytest.approx([v for _, v in want], abs=1e-6)
