"""The CLI's session flags are SessionSpec's fields: declared once, parsed back into a spec."""

import argparse
import subprocess
import sys

import pytest

from steerdesk.cli.common import add_session_args, spec_from_args
from steerdesk.engine import pack
from steerdesk.engine.errors import InputError
from steerdesk.engine.session_spec import SessionSpec


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_session_args(parser)
    return parser.parse_args(list(argv))


def test_every_spec_field_is_a_flag_with_its_default_and_help():
    parser = argparse.ArgumentParser()
    add_session_args(parser)
    by_dest = {a.dest: a for a in parser._actions}
    for f in SessionSpec.options():
        action = by_dest[f.name]
        assert action.option_strings == [f.metadata["flag"]]
        assert action.default == f.default and action.help.startswith(f.metadata["help"])


def test_the_sae_help_lists_the_registered_formats():
    from steerdesk.engine.sae import registry

    parser = argparse.ArgumentParser(prog="p")
    add_session_args(parser)
    shown = " ".join(parser.format_help().split())
    assert f"an SAE folder or file ({registry.titles()})" in shown


def test_building_the_parser_imports_no_torch():
    """`steerdesk --help` answers at once: torch is imported when a model is opened."""
    code = ("import sys; from steerdesk.cli.main import build_parser; "
            "build_parser().parse_args(['generate', '--prompt', 'x']); "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_flags_parse_into_the_spec_they_name(tmp_path):
    args = _parse("--model", "m", "--sae", "s", "--hook", "layers.3", "--device", "cpu",
                  "--dtype", "float32", "--allow-pickle")
    assert spec_from_args(args) == SessionSpec("m", "s", "layers.3", "cpu", "float32",
                                               allow_pickle=True, trust_remote_code=False)


def test_one_of_model_and_sae_is_not_enough():
    with pytest.raises(InputError, match="--sae is missing"):
        spec_from_args(_parse("--model", "m"))
    with pytest.raises(InputError, match="--model is missing"):
        spec_from_args(_parse("--sae", "s"))


@pytest.mark.skipif(not pack.pocket_available(), reason="the pocket pack is not built")
def test_neither_means_the_pocket_pack_with_the_other_options():
    spec = spec_from_args(_parse("--device", "cpu"))
    assert spec == SessionSpec.pocket(device="cpu")
    assert spec.model == str(pack.pocket_model()) and spec.sae == str(pack.pocket_sae())
