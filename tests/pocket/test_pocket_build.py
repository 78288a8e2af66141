import pytest

from steerdesk.pocket.build import STAGES, parse_args


def test_stages_run_in_pipeline_order():
    assert list(STAGES) == ["corpus", "tokenizer", "model", "sae", "catalog", "presets", "report"]


def test_defaults_select_every_stage_with_one_thread():
    args = parse_args([])
    assert args.stages.split(",") == list(STAGES)
    assert args.threads == 1


def test_unknown_stage_is_an_error(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--stages", "corpus,sea"])
    assert "sea" in capsys.readouterr().err
