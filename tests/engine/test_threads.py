"""The automatic thread count: the cores the load average leaves free, 1 to torch's default."""

import pytest

from steerdesk.engine import device


@pytest.mark.parametrize("cores, torch_default, load, want", [
    (2, 2, 8.0, 1),      # a busy 2-core machine: one thread
    (2, 2, 0.2, 2),      # idle: torch's default
    (16, 8, 3.4, 8),     # never above torch's default (one per physical core)
    (16, 8, 11.6, 4),    # 16 - 12 cores free
    (8, 8, 7.6, 1),
])
def test_auto_threads(monkeypatch, cores, torch_default, load, want):
    monkeypatch.setattr(device.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(device.os, "getloadavg", lambda: (load, 0.0, 0.0))
    monkeypatch.setattr(device, "TORCH_DEFAULT_THREADS", torch_default)
    assert device.auto_threads() == want


def test_without_a_load_average_it_is_torchs_default(monkeypatch):
    def no_load():
        raise OSError("no load average here")
    monkeypatch.setattr(device.os, "getloadavg", no_load)
    monkeypatch.setattr(device, "TORCH_DEFAULT_THREADS", 6)
    assert device.auto_threads() == 6
