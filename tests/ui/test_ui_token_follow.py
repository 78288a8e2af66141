"""A streaming column follows its text (issue 12 point 2): the last written words stay in view,
not the blank end that a run of newlines leaves; a reader who scrolled up is left there."""

from steerdesk.ui.run_record import RowRecord, TokenInfo
from steerdesk.ui.token_view import TokenView


def _tok(text: str) -> TokenInfo:
    return TokenInfo(text, 0, 0.5, [], [])


def _visible(view, position: int) -> bool:
    from PySide6.QtGui import QTextCursor

    cursor = QTextCursor(view.document())
    cursor.setPosition(position)
    rect = view.cursorRect(cursor)
    return rect.top() >= 0 and rect.bottom() <= view.viewport().height()


def test_column_follows_the_text_not_a_blank_end(qtbot):
    view = TokenView()
    qtbot.addWidget(view)
    view.resize(300, 200)
    view.show()
    row = RowRecord("steered", "")
    view.reset(row, "Prompt")
    row.tokens += [_tok(f" word{n}") for n in range(80)]
    view.refresh()
    end = len(view.toPlainText())
    assert _visible(view, end)                      # plain text: the end is in view
    row.tokens += [_tok("\n")] * 60                 # then a blank run, as steering can give
    view.refresh()
    last_word = len(view.toPlainText().rstrip())
    assert _visible(view, last_word)                # the last words, not an empty view
    bar = view.verticalScrollBar()
    assert bar.value() < bar.maximum()


def test_a_reader_who_scrolled_up_is_left_there(qtbot):
    view = TokenView()
    qtbot.addWidget(view)
    view.resize(300, 200)
    view.show()
    row = RowRecord("steered", "")
    view.reset(row, "Prompt")
    row.tokens += [_tok(f" word{n}") for n in range(80)]
    view.refresh()
    view.verticalScrollBar().setValue(0)
    row.tokens += [_tok(" more")] * 40
    view.refresh()
    assert view.verticalScrollBar().value() == 0
