import os
import stat

import pytest

from steerdesk.engine import atomic


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "settings.json"
    atomic.write_text(path, "old")
    with pytest.raises(RuntimeError), atomic.atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write("half of the ne")
        raise RuntimeError("crash mid-write")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_new_files_follow_the_umask_not_mkstemps_0600(tmp_path):
    old = os.umask(0o027)
    try:
        atomic.write_bytes(tmp_path / "a.bin", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o640
