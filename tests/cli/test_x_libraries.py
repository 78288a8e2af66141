"""Before Qt loads its xcb plugin, the app checks the X libraries and names what is missing
(the lookup is faked: the test machine has them all)."""

from steerdesk.cli import gui, x_libraries
from steerdesk.cli.x_libraries import check_x_libraries


def test_missing_libraries_name_their_packages_and_the_command():
    gone = {"libxcb-cursor.so.0", "libEGL.so.1"}
    line = check_x_libraries({}, loads=lambda soname: soname not in gone, platform="linux")
    assert "\n" not in line
    assert line.endswith("sudo apt-get install -y libxcb-cursor0 libegl1")
    assert "libxcb-icccm4" not in line


def test_every_library_qt_xcb_needs_is_checked():
    asked = []
    check_x_libraries({}, loads=lambda s: asked.append(s) or True, platform="linux")
    assert sorted(asked) == sorted(["libxcb-cursor.so.0", "libxcb-icccm.so.4",
                                    "libxcb-keysyms.so.1", "libxkbcommon-x11.so.0",
                                    "libGL.so.1", "libEGL.so.1"])


def test_no_check_off_xcb_or_off_linux():
    never = lambda s: False  # noqa: E731 - every library missing
    assert check_x_libraries({"QT_QPA_PLATFORM": "offscreen"}, never, "linux") is None
    assert check_x_libraries({"QT_QPA_PLATFORM": "wayland"}, never, "linux") is None
    assert check_x_libraries({}, never, "darwin") is None
    assert check_x_libraries({"QT_QPA_PLATFORM": "xcb"}, never, "linux") is not None
    assert check_x_libraries({}, lambda s: True, "linux") is None


def test_the_app_says_why_and_exits_2(monkeypatch, capsys):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(gui, "_app_exists", lambda: False)
    monkeypatch.setattr(x_libraries, "_loads", lambda soname: soname != "libxcb-icccm.so.4")
    monkeypatch.setattr(x_libraries.sys, "platform", "linux")
    assert gui.main([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith("sudo apt-get install -y libxcb-icccm4")


def test_the_readme_lists_the_packages():
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert "sudo apt-get install -y " + " ".join(x_libraries.XCB_LIBRARIES.values()) in readme
