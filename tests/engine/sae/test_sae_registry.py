"""The format registry: every fmt_* module declares itself, and a new module is all a new
format needs."""

import textwrap

import pytest

import steerdesk.engine.sae as sae_package
from steerdesk.engine.errors import InputError
from steerdesk.engine.sae import detect_format, load_sae, registry
from steerdesk.engine.session_spec import SessionSpec


def test_every_format_module_declares_itself_once_in_its_detection_order():
    modules = sorted(p.stem[len("fmt_"):] for p in
                     __import__("pathlib").Path(sae_package.__file__).parent.glob("fmt_*.py"))
    assert sorted(registry.names()) == modules
    order = registry.names()
    assert order.index("dictionary_learning") < order.index("openai")  # ae.pt is a .pt too
    assert order[-1] == "openai"                                        # it takes any .pt


def test_titles_feed_the_help_and_the_not_recognised_message(tmp_path):
    sae_help = SessionSpec.help_text("sae")
    for f in registry.formats():
        assert f.title in sae_help
    with pytest.raises(InputError) as err:
        load_sae(tmp_path)
    assert all(f.describe() in err.value.message for f in registry.formats())
    with pytest.raises(InputError, match="unknown SAE format 'nope'; known: saelens"):
        load_sae(tmp_path, fmt="nope")


def test_a_new_format_is_one_module(tmp_path, monkeypatch):
    (tmp_path / "fmt_toy.py").write_text(textwrap.dedent('''
        from pathlib import Path

        from steerdesk.engine.sae.base import SAE, SAEConfig
        from steerdesk.engine.sae.registry import SAEFormat
        from steerdesk.testing.tiny import make_sae_tensors


        def detect(path):
            return Path(path).suffix == ".toy"


        def load(path, *, allow_pickle=False, hook=None):
            cfg = SAEConfig(architecture="relu", d_in=4, d_sae=6, source_format="toy")
            return SAE(cfg, make_sae_tensors(4, 6))


        FORMAT = SAEFormat(name="toy", title="Toy", layout="a .toy file", detect=detect,
                           load=load, priority=5)
    '''))
    monkeypatch.setattr(sae_package, "__path__", [*sae_package.__path__, str(tmp_path)])
    registry.formats.cache_clear()
    try:
        (tmp_path / "x.toy").write_text("")
        assert registry.names()[0] == "toy" and detect_format(tmp_path / "x.toy") == "toy"
        assert load_sae(tmp_path / "x.toy").cfg.source_format == "toy"
        with pytest.raises(InputError, match=r"Toy \(a \.toy file\)"):
            load_sae(tmp_path)
    finally:
        monkeypatch.undo()
        registry.formats.cache_clear()
    assert "toy" not in registry.names()
