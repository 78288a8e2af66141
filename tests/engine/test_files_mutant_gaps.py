"""Gaps the mutation check found (docs/testing.md). Tests run as root here, where chmod 000
does not stop a read, so the permission wording is checked on the error itself."""

import errno

import pytest

from steerdesk.engine.config_fields import want_int
from steerdesk.engine.errors import InputError
from steerdesk.engine.userfiles import os_problem


def test_a_permission_error_is_said_to_be_one():
    err = os_problem("/data/sae/cfg.json", PermissionError(errno.EACCES, "Permission denied"))
    assert str(err) == "/data/sae/cfg.json: cannot be read or written: permission denied"
    err = os_problem("x.npz", OSError(errno.EPERM, "Operation not permitted"))
    assert str(err).endswith("permission denied")


def test_a_fractional_whole_number_is_refused():
    with pytest.raises(InputError, match=r"d_sae.*whole number, not 24\.5"):
        want_int({"d_sae": 24.5}, "d_sae", "cfg.json")
    assert want_int({"d_sae": 24.0}, "d_sae", "cfg.json") == 24


def test_a_peak_is_never_on_a_special_token():
    """Feature 1 is largest on the BOS token (position 0), which is not kept: its peak is the
    largest of the kept tokens, position 2."""
    import torch

    from steerdesk.engine.reading import peak_token

    acts = torch.tensor([[0.0, 9.0], [0.0, 1.0], [0.0, 4.0], [0.0, 2.0]])
    keep = torch.tensor([False, True, True, True])
    assert peak_token(acts, keep, 1) == 2
