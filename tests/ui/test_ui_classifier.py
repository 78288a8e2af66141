"""Tools > Classifier from examples: two lists of texts -> separating features and a
classifier (on the worker), saved, reloaded, tried on held-out text, and scoring the output
columns as they stream. On the tiny random model, digits and words use disjoint tokens, so
the two sets separate."""

from __future__ import annotations

import pytest
import torch
from PySide6.QtCore import Qt

from steerdesk.engine.catalog import Classifier, contrast
from steerdesk.ui import wording
from steerdesk.ui.classifier_dialog import feature_line

DIGITS = ["0123456789", "9876543210", "0011223344", "5566778899", "13579", "24680"]
WORDS = ["the lazy dog", "the quick fox", "brown dog jumps", "the fox jumps over",
         "lazy brown fox", "quick dog"]
HELD_OUT = {"864209": "digits", "the brown dog": "words"}   # in neither list
WAIT_MS = 60000


@pytest.fixture
def dialog(window, qtbot):
    d = window.menus.show_classifier_dialog()
    d.sets.a.name.setText("digits")
    d.sets.b.name.setText("words")
    d.sets.a.set_texts(DIGITS)
    d.sets.b.set_texts(WORDS)
    return d


def build(d, qtbot):
    with qtbot.waitSignal(d.built, timeout=WAIT_MS) as done:
        qtbot.mouseClick(d.find_button, Qt.LeftButton)
    return done.args[0]


def test_two_text_sets_count_load_and_check(qtbot, tmp_path, dialogs):
    from steerdesk.engine.errors import InputError
    from steerdesk.ui.text_sets import TwoTextSets

    w = TwoTextSets()
    qtbot.addWidget(w)
    w.a.edit.setPlainText("one\n\n  two  \nthree\n")
    assert w.a.texts() == ["one", "two", "three"] and w.a.count.text() == "3 texts"
    (tmp_path / "spam.jsonl").write_text('"buy now"\n{"text": "cheap\\npills"}\n')
    assert w.b.load_reporting(str(tmp_path / "spam.jsonl"))
    assert w.b.texts() == ["buy now", "cheap pills"] and w.b.count.text() == "2 texts"
    assert w.names() == ("first set", "spam")         # a loaded file names an unnamed side
    assert w.check() == (["one", "two", "three"], ["buy now", "cheap pills"])
    w.a.edit.setPlainText("")
    with pytest.raises(InputError, match="“first set” has no texts"):
        w.check()
    # a bad file is a dialog of one line, and the list is kept
    (tmp_path / "empty.txt").write_text("\n\n")
    for bad in (tmp_path / "missing.txt", tmp_path / "empty.txt"):
        assert not w.b.load_reporting(str(bad))
    assert [d[:2] for d in dialogs] == [("warning", "Load example texts")] * 2
    assert "missing.txt: no such file" in dialogs[0][2] and "holds no texts" in dialogs[1][2]
    assert all("\n" not in d[2] and "Traceback" not in d[2] for d in dialogs)
    assert w.b.texts() == ["buy now", "cheap pills"]


def test_classifier_from_examples_saved_reloaded_and_tried(dialog, qtbot, ui_session,
                                                           tmp_path):
    d = dialog
    assert not d.save_button.isEnabled() and not d.try_text.isEnabled()
    result = build(d, qtbot)
    # what the dialog shows is the engine's own contrast of the same texts
    want = contrast(ui_session, DIGITS, WORDS, top=20, names=("digits", "words"))
    assert [f.index for f in result.features] == [f.index for f in want.features]
    assert result.classifier.features == want.classifier.features
    assert result.classifier.weights == pytest.approx(want.classifier.weights, rel=1e-5)
    assert result.classifier.accuracy == 1.0
    assert d.features.count() == len(want.features)
    first = want.features[0]
    side = "digits" if first.score > 0 else "words"
    assert d.features.item(0).text().startswith(f"#{first.index}")
    assert f"more active on “{side}”" in d.features.item(0).text()
    assert "12 of the 12 example texts on the correct side (100%)" in d.status.text()
    # the list cuts long lines at its edge; each line's tooltip has the whole of it
    for n, f in enumerate(want.features):
        tip = d.features.item(n).toolTip()
        assert tip.startswith(f"#{f.index} {f.label}".rstrip() + " — more active on “")
        assert tip.split("\n")[0] == feature_line(f, ("digits", "words"), width=None)
        assert "average activation" in tip
    d.features.setCurrentRow(0)                       # its evidence in the feature card
    assert d.card.index == first.index

    path = tmp_path / "digits-words.json"
    assert d.save(str(path))
    d.result, d.classifier = None, None
    assert d.load(str(path))
    clf = d.classifier
    assert clf.features == want.classifier.features and clf.names == ["digits", "words"]
    # held-out texts land on the right side, by the reloaded classifier and by hand
    idx = torch.tensor(clf.features)
    for text, side in HELD_OUT.items():
        from steerdesk.engine.reading import text_activations

        _ids, acts, keep = text_activations(ui_session, [text])[0]
        pooled = acts[keep].max(0).values[idx]
        z = ((pooled - torch.tensor(clf.center)) / torch.tensor(clf.scale)) @ torch.tensor(
            clf.weights) + clf.bias
        p = float(torch.sigmoid(z))
        assert (p >= 0.5) == (side == "digits")
        d.try_text.setPlainText(text)                 # debounced, then scored on the worker
        qtbot.waitUntil(lambda: d.try_result.text() == "This text: " + wording.verdict(
            clf.names, p), timeout=WAIT_MS)
        assert f"“{side}”" in d.try_result.text()


def test_bad_classifier_files_and_empty_sets_are_one_line_dialogs(dialog, dialogs, tmp_path):
    d = dialog
    (tmp_path / "bad.json").write_text('{"format": "something else"}')
    wrong = Classifier(["a", "b"], [1], [1.0], [0.0], [1.0], 0.0, d_sae=4096)
    wrong.save(tmp_path / "wrong.json")
    for name in ("bad.json", "wrong.json", "missing.json"):
        assert not d.load(str(tmp_path / name))
    d.sets.b.edit.setPlainText("")
    d.find()
    texts = [t for _k, _title, t in dialogs]
    assert "not a steerdesk classifier" in texts[0]
    assert "made for an SAE with 4,096 features; the open SAE has 64" in texts[1]
    assert "missing.json" in texts[2]
    assert "“words” has no texts" in texts[3]
    assert all("\n" not in t for t in texts) and d.classifier is None


def test_columns_show_the_classifiers_running_score(window, dialog, qtbot, ui_session):
    from steerdesk.engine.generation import encode_prompt
    from steerdesk.engine.hooks import capture_at

    d = dialog
    clf = build(d, qtbot).classifier
    qtbot.mouseClick(d.score_button, Qt.LeftButton)
    assert window.c.classifier is clf and window.menus.stop_scoring.isEnabled()
    window.compare.set_prompt("the quick brown")
    window.compare.max_tokens.setValue(8)
    finished = []
    window.c.run_finished.connect(finished.append)
    record = window.c.generate(window.compare.prompt_text(), window.compare.sampling())
    window.compare.start(record, window.c.label)
    column = window.compare.columns[0]
    assert column.score.text() == "Classifier: waiting for text…"
    # nothing steered: the classifier's features are read, but never plotted or tinted
    assert record.watch == [] and record.columns == list(dict.fromkeys(clf.features))
    qtbot.waitUntil(lambda: len(record.rows[0].tokens) >= 1, timeout=WAIT_MS)
    window.redraw()                                   # live, before the run ends
    early = record.row_score(0)
    assert column.score.text() == "Classifier: " + wording.verdict(clf.names, early)
    qtbot.waitUntil(lambda: finished == [record], timeout=WAIT_MS)   # it may be over already
    window.redraw()
    # by hand: the baseline column's text read by the model, pooled over its tokens
    prompt_ids, _ = encode_prompt(ui_session.tokenizer, record.prompt, False)
    gen = [t.token_id for t in record.rows[0].tokens]
    hidden = capture_at(ui_session.model, ui_session.hook, torch.tensor([prompt_ids + gen]))
    acts = ui_session.sae.encode(hidden)[0, len(prompt_ids):].float()
    p = float(clf.score_vectors(acts.max(0).values.unsqueeze(0))[0])
    assert record.row_score(0) == pytest.approx(p, abs=1e-4)
    assert column.score.text() == "Classifier: " + wording.verdict(clf.names, record.row_score(0))
    # the header's reach is the classifier's score where one scores the columns
    assert column.costs.text().endswith(f" · reach {p:.0%} “{clf.names[0]}”")
    window.menus.stop_scoring.trigger()
    assert window.c.classifier is None and window.c.request_watch() == []
