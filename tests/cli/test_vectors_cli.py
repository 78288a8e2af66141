"""`steerdesk vectors build` and `generate --vector FILE=STRENGTH`, in-process."""

import json

import pytest
import torch

A_TEXTS = "the cat sat on the mat\na cat and a dog\n"
B_TEXTS = "numbers one two three\nseven eight\n"


@pytest.fixture
def sets(tmp_path):
    a, b = tmp_path / "cats.txt", tmp_path / "numbers.txt"
    a.write_text(A_TEXTS)
    b.write_text(B_TEXTS)
    return a, b


def _session(tiny):
    from steerdesk.engine.session import open_session

    model, sae = tiny
    return open_session(model, sae)


def test_build_writes_the_engine_vector_and_generate_steers_with_it(cli, tiny, sets, tmp_path):
    from steerdesk.engine.diffmean import build_vector, load_vector

    model, sae = tiny
    a, b = sets
    out = tmp_path / "cats-vector.json"
    r = cli("vectors", "build", "--model", model, "--sae", sae, "--a", a, "--b", b,
            "--out", out, "--json")
    assert r.code == 0, r.err
    record = json.loads(r.out)
    v = load_vector(out)
    want = build_vector(_session(tiny), A_TEXTS.splitlines(), B_TEXTS.splitlines(), name="cats")
    assert v.name == "cats"          # the --a file's name by default
    assert torch.allclose(torch.tensor(v.direction), torch.tensor(want.direction), atol=1e-6)
    assert v.typical == pytest.approx(want.typical)
    assert record["vector"]["typical"] == pytest.approx(v.typical) and record["path"] == str(out)

    r = cli("generate", "--model", model, "--sae", sae, "--prompt", "the cat",
            "--vector", f"{out}=30", "--max-new-tokens", "6", "--json")
    assert r.code == 0, r.err
    cols = json.loads(r.out)["columns"]
    assert len(cols) == 2       # the --vector items make one column of their own
    steering = cols[1]["steering"]
    assert steering["features"] == []
    assert steering["vectors"][0]["strength"] == 30
    assert steering["vectors"][0]["raw_norm"] == pytest.approx(30 * v.typical)
    assert steering["vectors"][0]["vector"]["direction"] == pytest.approx(list(v.direction))
    assert cols[1]["name"] == "vector cats +30.00x typical"
    assert cols[1]["text"] != cols[0]["text"]


def test_replay_of_a_vector_run_reproduces_it(cli, tiny, sets, tmp_path):
    model, sae = tiny
    a, b = sets
    out = tmp_path / "v.json"
    assert cli("vectors", "build", "--model", model, "--sae", sae, "--a", a, "--b", b,
               "--name", "cats", "--out", out).code == 0
    r = cli("generate", "--model", model, "--sae", sae, "--prompt", "the cat",
            "--steer", "3=2", "--vector", f"{out}=-4", "--max-new-tokens", "5", "--json")
    record = tmp_path / "run.json"
    record.write_text(r.out)
    again = cli("generate", "--replay", record, "--json")
    assert again.code == 0, again.err
    cols = json.loads(again.out)["columns"]
    assert cols[2]["steering"]["vectors"][0]["strength"] == -4


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_text("{nope"), "v.json"),
    (lambda p: p.write_text(json.dumps({"format": "steerdesk-vector", "name": "x",
                                        "direction": [1.0, 2.0], "typical": 1.0,
                                        "d_model": 2})), "d_model 2"),
    (lambda p: p.write_text(json.dumps({"format": "steerdesk-vector", "name": "x",
                                        "direction": [1.0, 2.0], "typical": 1.0,
                                        "d_model": 3})), "d_model is 3"),
])
def test_bad_vector_files_exit_2_with_one_line(cli, tiny, tmp_path, make, words):
    model, sae = tiny
    path = tmp_path / "v.json"
    make(path)
    r = cli("generate", "--model", model, "--sae", sae, "--prompt", "hi",
            "--vector", f"{path}=1")
    assert r.code == 2 and len(r.err_lines) == 1 and words in r.err, r.err


def test_bad_vector_arguments_exit_2(cli, tiny, sets, tmp_path):
    model, sae = tiny
    a, b = sets
    r = cli("generate", "--model", model, "--sae", sae, "--prompt", "hi", "--vector", "v.json")
    assert r.code == 2 and "FILE=STRENGTH" in r.err and len(r.err_lines) == 1
    r = cli("generate", "--model", model, "--sae", sae, "--prompt", "hi", "--vector", "v.json=x")
    assert r.code == 2 and "not a finite number" in r.err and len(r.err_lines) == 1
    r = cli("vectors", "build", "--model", model, "--sae", sae, "--a", tmp_path / "none.txt",
            "--b", b, "--out", tmp_path / "o.json")
    assert r.code == 2 and "no such file" in r.err and len(r.err_lines) == 1
    r = cli("vectors", "build", "--model", model, "--sae", sae, "--a", a, "--b", a,
            "--out", tmp_path / "o.json")
    assert r.code == 2 and "same mean" in r.err and not (tmp_path / "o.json").exists()
