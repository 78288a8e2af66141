"""Help > Guide: steering in plain words, and the keyboard shortcuts, read off the window's own
actions so that the list is always the one that works."""

from __future__ import annotations

import html

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

GUIDE = """
<h2>Steering a model by its features</h2>
<p><b>What is a feature?</b> While the model reads and writes, a <i>sparse autoencoder</i>
(SAE) splits what is going on inside it into thousands of <b>features</b>, each of which
fires on one kind of thing: German words, years, the name after a quote's dash. The list on
the left shows them with a label, how strongly each fires at most (<i>max act</i>) and how
often (<i>1 in N tokens</i>). Click one to see the texts where it fires most.</p>

<p><b>Steering</b> changes a feature while the model writes. Add a feature to the
<i>Steering</i> panel (double-click it, drag it, or <i>Add to steering</i> on its card), set
its strength, and press <b>Generate</b>: the text without steering (the <i>baseline</i>) and
with it appear side by side, sampled with the same random draws, so every difference comes
from the steering.</p>

<p><b>Three ways to steer</b></p>
<ul>
<li><b>add</b>: push the model toward the feature (a negative strength pushes away). The
usual choice.</li>
<li><b>clamp</b>: hold the feature at exactly the strength, whatever the text.</li>
<li><b>ablate</b>: switch the feature off.</li>
</ul>

<p><b>What "2x max" means.</b> Strengths are in multiples of the feature's <i>max
activation</i>, the strongest it ever fired on the text its catalog was built from: 1x is "as
strong as it ever gets on its own", 2x is twice that. <i>raw</i> is the SAE's own units. A
newly added feature starts at the strength at which features of this SAE reliably steered in
its calibration; tick <b>in %</b> to see every slider in percent of that strength (100% =
steers reliably; much more and the text falls apart). Every slider then runs from -200% to
+200%.</p>

<p><b>Try several strengths at once.</b> Tick <i>Sweep</i>, pick a feature and type strengths
(<i>0, 1, 2, 4</i>): one column per strength, in one run.</p>

<p><b>Sampling.</b> <i>Temperature</i> 0 always takes the likeliest word (repeatable, but it
often loops); around 0.8 reads naturally. The <i>seed</i> fixes the random draws: the same
seed and settings give the same text; <i>New seed</i> tries other draws.</p>

<p><b>Presets</b> (Steering menu) save the panel to a file you can share, and load one back.
The pack's own presets are listed there too.</p>

<p><b>Rules: steering when something happens.</b> Press <i>Add a rule</i> under the panel
and fill in the sentence. <i>When</i>: what to watch, which is a feature firing above (or
below) a level, a classifier being sure enough, or the text so far containing a word.
<i>then</i>: what to do, which is add, clamp or ablate a feature, or stop the column.
<i>for</i>: how long, either that many tokens or as long as the condition holds. Rules act
in the steered column only; the baseline never uses them. Tokens where a rule steered have
a wavy underline, and the plot shades them.</p>

<p><b>A classifier from examples.</b> <i>Tools &gt; Classifier from examples</i>: type texts
of one kind on the left and of another kind on the right (one per line), and press <i>Find
features that separate them</i>. The dialog lists the features that tell the two apart and
builds a small classifier on the best few. Try it on a text of your own, save it, and use it
in a rule (<i>When the classifier says…</i>) or to score the output columns.</p>

<p><b>A steering vector from examples.</b> <i>Steering &gt; Steering vector from
examples</i>: texts that show a concept on the left, texts that do not on the right. <i>Build</i>
takes the difference of the model's average inner activation over the two sides, a direction
toward the concept, and adds it to the panel as its own row. Its strength is in <i>×
typical</i>: 1 adds one typical activation along that direction.</p>

<p><b>Reading the output.</b> Tokens are tinted by how strongly the steered features fire on
them; hover a token for its probability and top features, double-click it to list them. The
plot below shows each steered feature's activation, one line per column in that column's
colour. Right-click selected text and choose <i>What lights up here?</i> to find the
features that fire on it.</p>

<p><b>Is steering worth it? Compare with prompting.</b> Tick <i>Compare with prompting</i>
(beside <i>Sweep</i>) and type an instruction (<i>Answer in German</i>; a preset may fill it
in): the next run adds a column that only asks, with no steering, so you see what steering
gets that asking does not. When a run ends, each column's header shows two numbers.
<i>Fluency cost</i> is how surprised the unsteered model is by the text (its perplexity):
lower reads more like the model's own writing, so compare it with the baseline's.
<i>Reach</i> is how strongly the steered feature fired on average, in x max (or, while a
classifier scores the columns, how sure it is). The <i>Reach vs fluency</i> tab puts every
column on one chart: up is more of the concept, right is more of a cost.</p>

<p><b>On stage.</b> <i>View &gt; Presentation mode</i> (F11) doubles the text and hides
everything but the prompt, the columns and the plot. Esc or F11 leaves it.</p>
"""


FIXED_NAME = "fixed_name"     # an action property: its name where its text changes


def action_name(act) -> str:
    """An action's name for the list: its fixed name where it has one (Undo's text follows the
    undo stack: "Undo set strength of Spanish text"), else its text without '&' and '…'."""
    fixed = act.property(FIXED_NAME)
    return fixed if fixed else act.text().replace("&", "").rstrip("…").strip()


def shortcut_rows(window) -> list[tuple[str, str]]:
    """(what it does, keys) for every action of the window that has a shortcut."""
    rows, seen = [], set()
    for act in window.actions():
        keys = [k.toString(QKeySequence.NativeText) for k in act.shortcuts() if not k.isEmpty()]
        text = action_name(act)
        if keys and text and text not in seen:
            seen.add(text)
            rows.append((text, " or ".join(keys)))
    return rows


def shortcuts_html(window) -> str:
    cells = "".join(f"<tr><td style='padding-right:24px'>{html.escape(t)}</td>"
                    f"<td><b>{html.escape(k)}</b></td></tr>" for t, k in shortcut_rows(window))
    return f"<h2>Keyboard shortcuts</h2><table cellpadding='3'>{cells}</table>"


class GuideDialog(QDialog):
    def __init__(self, window, section: str = "guide"):
        super().__init__(window)
        self.setWindowTitle("steerdesk guide" if section == "guide" else "Keyboard shortcuts")
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(False)
        self.text.setHtml(GUIDE + shortcuts_html(window) if section == "guide"
                          else shortcuts_html(window))
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(720, 640)


def show_guide(window, section: str = "guide") -> None:
    GuideDialog(window, section).exec()
