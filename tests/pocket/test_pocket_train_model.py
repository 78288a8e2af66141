import json
import math

import pytest
from pocket_fixtures import tiny_documents

from steerdesk.pocket.model_shape import ModelShape, count_parameters
from steerdesk.pocket.token_streams import encode_by_language
from steerdesk.pocket.tokenizer import EOT, load_tokenizer
from steerdesk.pocket.train_model import TrainSettings, _State, learning_rate, train

TINY_SHAPE = dict(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, context_length=16)


def _streams(tokenizer_dir):
    tokenizer = load_tokenizer(tokenizer_dir)
    streams = encode_by_language(tiny_documents(repeat=4), tokenizer)
    shape = ModelShape(vocab_size=tokenizer.get_vocab_size(), **TINY_SHAPE)
    return tokenizer, streams, shape


def _settings(**overrides):
    base = dict(
        budget_minutes=None, max_steps=60, batch_size=8, learning_rate=1e-2,
        warmup_steps=5, log_every=5, eval_windows=4,
    )
    return TrainSettings(**{**base, **overrides})


@pytest.mark.slow
def test_short_training_run_saves_a_loadable_model_whose_loss_fell(tiny_tokenizer_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer, streams, shape = _streams(tiny_tokenizer_dir)
    out = tmp_path / "model"
    metrics = train(
        streams, streams, tiny_tokenizer_dir, tmp_path / "work", out, shape, _settings(),
        eot_id=tokenizer.token_to_id(EOT), log=lambda line: None,
        after_training=lambda model: {"samples": {"en": ["hook ran"]}},
    )
    curve = metrics["train_loss_curve"]
    assert curve[0][0] == 1 and curve[-1][0] == 60
    assert curve[-1][1] < curve[0][1] - 1.0
    assert sorted(metrics["held_out"]) == ["de", "en", "ru"]
    assert math.isclose(metrics["held_out"]["ru"]["perplexity"], math.exp(metrics["held_out"]["ru"]["loss"]), rel_tol=1e-2)
    assert json.loads((out / "metrics.json").read_text())["samples"] == {"en": ["hook ran"]}

    model = AutoModelForCausalLM.from_pretrained(str(out))
    hf_tokenizer = AutoTokenizer.from_pretrained(str(out))
    assert (out / "model.safetensors").is_file()
    assert count_parameters(model) == metrics["parameters"]
    assert model.config.eos_token_id == model.config.bos_token_id == hf_tokenizer.eos_token_id
    inputs = hf_tokenizer("Das Leben ist", return_tensors="pt")
    with_labels = model(**inputs, labels=inputs.input_ids)
    assert with_labels.loss.item() < math.log(shape.vocab_size)


def test_rerun_resumes_from_the_checkpoint(tiny_tokenizer_dir, tmp_path):
    tokenizer, streams, shape = _streams(tiny_tokenizer_dir)
    kwargs = dict(eot_id=tokenizer.token_to_id(EOT), log=lambda line: None)
    train(streams, streams, tiny_tokenizer_dir, tmp_path / "work", tmp_path / "m1", shape, _settings(max_steps=10), **kwargs)
    lines = []
    metrics = train(
        streams, streams, tiny_tokenizer_dir, tmp_path / "work", tmp_path / "m2", shape,
        _settings(max_steps=15), **{**kwargs, "log": lines.append},
    )
    assert any(line.startswith("resumed from") and "step 10" in line for line in lines)
    assert metrics["steps"] == 15


def test_resume_refuses_a_checkpoint_of_another_shape(tiny_tokenizer_dir, tmp_path):
    tokenizer, streams, shape = _streams(tiny_tokenizer_dir)
    kwargs = dict(eot_id=tokenizer.token_to_id(EOT), log=lambda line: None)
    train(streams, streams, tiny_tokenizer_dir, tmp_path / "work", tmp_path / "m1", shape, _settings(max_steps=1), **kwargs)
    other = ModelShape(vocab_size=shape.vocab_size, **{**TINY_SHAPE, "hidden_size": 16})
    with pytest.raises(ValueError, match="checkpoint.pt.*delete it"):
        train(streams, streams, tiny_tokenizer_dir, tmp_path / "work", tmp_path / "m2", other, _settings(max_steps=2), **kwargs)


def test_schedule_warms_up_then_decays_to_the_floor():
    settings = TrainSettings(budget_minutes=None, max_steps=100, learning_rate=1.0, warmup_steps=10, min_lr_ratio=0.1)
    assert learning_rate(_State(step=0), settings) == pytest.approx(0.1)
    assert learning_rate(_State(step=10), settings) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.1)))
    assert learning_rate(_State(step=100), settings) == pytest.approx(0.1)


def test_time_budget_drives_progress():
    settings = TrainSettings(budget_minutes=2.0, learning_rate=1.0, warmup_steps=1, min_lr_ratio=0.0)
    assert learning_rate(_State(step=50, elapsed=60.0), settings) == pytest.approx(0.5)


def test_settings_need_a_stopping_rule():
    with pytest.raises(ValueError, match="budget_minutes or max_steps"):
        TrainSettings(budget_minutes=None, max_steps=None)


def test_resume_refuses_a_checkpoint_of_other_data(tiny_tokenizer_dir, tmp_path):
    tokenizer, streams, shape = _streams(tiny_tokenizer_dir)
    kwargs = dict(eot_id=tokenizer.token_to_id(EOT), log=lambda line: None)
    train(streams, streams, tiny_tokenizer_dir, tmp_path / "work", tmp_path / "m1", shape, _settings(max_steps=1), **kwargs)
    fewer = {k: v[:-1] for k, v in streams.items()}
    with pytest.raises(ValueError, match="another tokenizer or corpus"):
        train(fewer, streams, tiny_tokenizer_dir, tmp_path / "work", tmp_path / "m2", shape, _settings(max_steps=2), **kwargs)
