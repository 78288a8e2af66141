"""Which language is a short text in? A stop-word vote, good enough to judge the pocket model's
steered continuations (which are word salad with the right word forms, not sentences).

- Russian: the text counts as Russian when at least half of its letters are Cyrillic (no other
  pocket language uses the script).
- en / de / es / it / pl: every word (lower-cased, split on anything that is not a letter) that
  is one of a language's common function words is a vote for that language; the language with
  the most votes wins. A word shared by several lists ("a", "die"/"e"...) counts for each.
  Letters only one language uses (ß ä ö ü; ñ ¿ ¡; ą ć ę ł ń ś ź ż) add votes too.
- No votes, or a tie at the top: "unknown".
"""

from __future__ import annotations

import re
from collections import Counter

STOP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("""the a an and or but of to in on at for with by from as is are was were be
        been it this that these those he she they we you i me my your his her its our their not
        no yes do does did have has had will would can could what which who when where why how
        all there if so than then just about into up out one""".split()),
    "de": frozenset("""der die das den dem des ein eine einen einem einer und oder aber nicht ist
        sind war waren wird werden ich du er sie es wir ihr mich dich sich mir dir mit von zu zum
        zur auf für fur bei nach aus wie was wer wenn dass daß auch noch nur schon so im ist man
        kein keine hat haben sein ihm ihn uns euch doch mal denn als""".split()),
    "es": frozenset("""el la los las un una unos unas y o pero de del al en con por para que qué
        es son fue era ser no sí si se lo le les me te nos mi tu su sus yo tú él ella ellos
        como cómo cuando donde más muy ya hay este esta esto todo""".split()),
    "it": frozenset("""il lo la i gli le un uno una e ed o ma di del della dei delle da dal
        in nel nella con su per tra fra che non è sono era essere ho ha hanno mi ti si ci vi
        io tu lui lei noi voi loro come quando dove più molto anche se chi questo quello""".split()),
    "pl": frozenset("""i w z na do nie się to jest że a o jak ale od po za dla co czy jego jej
        ich ja ty on ona my wy był była było są być mnie mi go tak już tylko przez przy pod
        kto gdy ten ta te tego który która które jeszcze bo ze we""".split()),
}
LANGUAGES = ("en", "de", "es", "it", "pl", "ru")
NAMES = {"en": "English", "de": "German", "es": "Spanish", "it": "Italian", "pl": "Polish",
         "ru": "Russian"}
_SPECIAL_LETTERS = {"de": set("ßäöü"), "es": set("ñ¿¡"), "pl": set("ąćęłńśźż")}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def cyrillic_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if "\u0400" <= c <= "\u04ff") / len(letters)


def votes(text: str) -> Counter:
    counts: Counter = Counter()
    lower = text.lower()
    for word in _WORD.findall(lower):
        for lang, words in STOP_WORDS.items():
            if word in words:
                counts[lang] += 1
    for lang, letters in _SPECIAL_LETTERS.items():
        n = sum(1 for c in lower if c in letters)
        if n:
            counts[lang] += n
    return counts


def judge(text: str) -> str:
    """"en", "de", "es", "it", "pl", "ru" or "unknown"."""
    if cyrillic_share(text) >= 0.5:
        return "ru"
    counts = votes(text).most_common()
    if not counts or (len(counts) > 1 and counts[0][1] == counts[1][1]):
        return "unknown"
    return counts[0][0]


def share(texts: list[str], language: str) -> float:
    return sum(judge(t) == language for t in texts) / max(len(texts), 1)
