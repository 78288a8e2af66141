"""Engine errors say what is wrong in words; command-line flags go in `cli_hint` only."""

import ast
import re
from pathlib import Path

import steerdesk
from steerdesk.engine.errors import InputError, PickleRefused

ENGINE = Path(steerdesk.__file__).parent / "engine"
FLAG = re.compile(r"--[a-z]")


def _message_strings(call: ast.Call) -> list[str]:
    """The literal text of an error's first argument (f-string parts included)."""
    if not call.args:
        return []
    return [n.value for n in ast.walk(call.args[0])
            if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_no_engine_error_message_names_a_cli_flag():
    offenders = []
    for file in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id.endswith(("Error", "Refused"))):
                offenders += [f"{file.relative_to(ENGINE)}:{node.lineno}: {s!r}"
                              for s in _message_strings(node) if FLAG.search(s)]
    assert not offenders, "\n".join(offenders)


def test_for_cli_appends_the_hint_and_only_then():
    plain = InputError("x.json: not valid JSON")
    hinted = InputError("hook 'h': unknown", field="hook", cli_hint="pass --hook NAME")
    assert plain.for_cli() == "x.json: not valid JSON" and plain.field is None
    assert hinted.for_cli() == "hook 'h': unknown; pass --hook NAME"
    assert hinted.message == "hook 'h': unknown" and str(hinted) == hinted.message
    refused = PickleRefused("ae.pt: is a pickle file")
    assert refused.field == "allow_pickle" and "--allow-pickle" in refused.for_cli()
    assert "--" not in refused.message
