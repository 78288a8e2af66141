"""'Compare with prompting': a checkbox and the instruction for the prompted column (one more,
unsteered column whose prompt starts with the instruction; engine/prompted.py). Prompting is
the yardstick steering has to beat, so the app can show it beside the steered text."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLineEdit, QWidget

PLACEHOLDER = "e.g. Answer in German"


class PromptingOption(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.check = QCheckBox("Compare with prompting")
        self.check.setToolTip("Add a column that is not steered: the model gets the instruction "
                              "before your prompt instead. Same seed as the other columns, so "
                              "you see whether asking does what steering does")
        self.instruction = QLineEdit()
        self.instruction.setPlaceholderText(PLACEHOLDER)
        self.instruction.setToolTip("The instruction put before the prompt in the prompted "
                                    "column (a blank line between them). A preset with a "
                                    "'prompt_equivalent' fills it in when loaded")
        width = self.fontMetrics().horizontalAdvance(PLACEHOLDER) + 24
        self.instruction.setMinimumWidth(width)
        self.instruction.setMaximumWidth(2 * width)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.check)
        layout.addWidget(self.instruction)

    def is_on(self) -> bool:
        return self.check.isChecked()

    def text(self) -> str:
        return self.instruction.text()

    def set(self, on: bool, text: str) -> None:
        self.check.setChecked(on)
        self.instruction.setText(text)
        self.instruction.setCursorPosition(0)     # a long one shows its start

    def offer(self, instruction: str) -> None:
        """A loaded preset's prompt_equivalent: the field takes it; the option stays as it is
        (the user turns the column on)."""
        if instruction.strip():
            self.instruction.setText(instruction.strip())
            self.instruction.setCursorPosition(0)
