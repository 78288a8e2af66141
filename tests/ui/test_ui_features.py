"""The feature list: instant search at 100k features, labels from a catalog, the empty
state without one."""

import numpy as np

from steerdesk.ui.feature_source import FeatureSource
from steerdesk.ui.feature_table import FeatureTableModel


class FakeCatalog:
    def __init__(self, n):
        words = ["golden", "gate", "bridge", "German", "code", "python", "weather", "rain"]
        self._labels = [f"{words[i % 8]} {words[(i // 8) % 8]} {i}" for i in range(n)]
        self.n = n

    def labels(self):
        return self._labels

    def max_activations(self):
        return np.linspace(1, 2, self.n)

    def densities(self):
        return np.full(self.n, 0.01)


def test_search_100k_features(qapp):
    """What search finds at 100k features (how fast: test_feature_search_benchmark.py)."""
    src = FeatureSource(120_000, FakeCatalog(120_000))
    model = FeatureTableModel()
    model.set_source(src)
    src.warm_up()            # the app does this on the worker thread when the SAE opens
    for query in ("golden bridge", "pyth", "weathr"):    # words, a prefix, a typo
        rows = src.search(query)
        model.set_rows(rows)
        assert len(rows) > 0, query
    rows = src.search("golden bridge")
    model.set_rows(rows)
    assert model.rowCount() == len(rows) > 0
    assert all("golden" in src.label(i) and "bridge" in src.label(i) for i in rows[:50])
    assert list(src.search("1234")[:1]) == [1234]
    from PySide6.QtCore import Qt

    model.set_rows(np.arange(120_000))
    model.sort(2, Qt.DescendingOrder)                   # by max activation
    assert model.feature_at(0) == 119_999
    model.sort(0, Qt.AscendingOrder)
    assert model.feature_at(0) == 0
    model.set_rows(rows)
    assert model.data(model.index(0, 1)) == src.label(int(rows[0]))


def test_without_catalog_features_are_numbers(window, qtbot):
    b = window.browser
    assert b.model.rowCount() == 64
    assert b.model.data(b.model.index(5, 1)) == "feature 5"
    qtbot.keyClicks(b.search, "golden")
    qtbot.waitUntil(lambda: b.model.rowCount() == 0, timeout=2000)
    assert "number" in b.count.text()       # says how to search without a catalog


def test_number_search(window, qtbot):
    b = window.browser
    qtbot.keyClicks(b.search, "6")
    qtbot.waitUntil(lambda: b.model.rowCount() == 5, timeout=2000)   # 6, 60..63
    assert [b.model.feature_at(r) for r in range(5)] == [6, 60, 61, 62, 63]
    b.table.selectRow(0)
    assert "No catalog" in b.card.body.toPlainText()
    assert window.c.focus == -1      # browsing does not move the tint off what the run watched


def test_drag_mime_adds_to_panel(window):
    from PySide6.QtCore import QMimeData

    model = window.browser.model
    mime = model.mimeData([model.index(10, 0)])
    assert bytes(mime.data("application/x-steerdesk-feature")) == b"10"
    window.panel.add_feature(10)
    assert window.c.panel.indices() == [10]
    assert isinstance(mime, QMimeData)


def test_number_column_fits_the_largest_index(qtbot):
    """Qt sizes columns from the first rows only, which cut 6-digit numbers to '12…'."""
    from steerdesk.ui.feature_browser import FeatureBrowser

    browser = FeatureBrowser()
    qtbot.addWidget(browser)
    browser.set_source(FeatureSource(120_000, FakeCatalog(120_000)))
    metrics = browser.table.fontMetrics()
    assert browser.table.columnWidth(0) > metrics.horizontalAdvance("119999")
