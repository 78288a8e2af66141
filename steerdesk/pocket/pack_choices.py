"""Choices made by reading the pocket catalog: features named by hand, keyed to the SAE they
were read from (a rebuilt SAE has other feature indices, so these apply only to this one).

The language features are not listed here: the catalog stage finds them by rule
(`steer_eval.rank_language_features`) and names them; their snippets were read and agree
(598 German, 1717 Spanish, 1750 Italian, 1485 Russian in this SAE; for Polish see below).
"""

SAE_FINGERPRINT = "7e7b128ac285d42f"   # sha256 of sae_weights.safetensors, first 16 hex digits

HAND_LABELS: dict[int, str] = {
    61: "quotation attribution: the author's first name after '--' (Mark Twain, Woody Allen)",
    1979: "Russian quotation attribution: the author's initial after '--'",
    447: "years: the '198' of 1982, 1985, 1988",
    434: "numbers and years ('198' of 1983, ' 200' of 2001, '9' of 90%)",
    287: "digits in numbers (5:1, No. 2-14, Nr. 502)",
    463: "chat logs: '<' opening a nickname (<Joey>, <@Socrat>)",
    810: "Polish chat logs: '?' and '...' ending a line",
    # the rule ranks 390 first for Polish, but its snippets are IRC logs typed without
    # diacritics; 943 (ranked second) is Polish prose with ą/ę and steers better
    390: "Polish IRC chat text (typed without diacritics)",
    943: "Polish text",
}

# features docs/pocket-pack.md shows with their snippets, after the German feature
SHOWCASE: tuple[int, ...] = (61, 447)

# Each language preset's prompt_equivalent: the prompt that came closest to the preset's effect
# without steering. Picked by hand, on 2026-12-03, from the trials below: `steerdesk evaluate
# --preset P --prompts <steer_eval.PROMPTS, one per line> --seeds 3 --prompted TEXT` (12
# continuations each; the highest share judged in the language wins, ties by the lower
# perplexity). They depend on the model, not the SAE: a retrained model needs new trials.
PROMPT_EQUIVALENTS: dict[str, str] = {
    "de": "Dies ist ein Text auf Deutsch. Wir schreiben nur auf Deutsch.",
    "es": "Yo estoy aquí, y nosotros estamos en casa con el perro.",
    "it": "Io sono qui, e noi siamo a casa con il cane.",
    "pl": "To jest tekst po polsku. Piszemy tylko po polsku. Jestem tutaj, a my jesteśmy w domu.",
    "ru": "Это текст на русском языке. Мы пишем только по-русски.",
}

PROMPT_EQUIVALENT_NOTE = (
    "How the prompt equivalents were picked: on the sweep's prompts (`steer_eval.PROMPTS`, not "
    "the evaluation prompts above) x seeds 0..2, 12 continuations each, the share judged in the "
    "language. The pocket model is a tiny base model, trained on plain text with no "
    "instructions: an English instruction (\"Answer in German:\") never worked (0%); a short "
    "instruction in the language itself (\"Auf Deutsch:\") sometimes; a sentence or two of "
    "text in the language works best, because the model goes on in the language it is given. "
    "None of them reached the steered columns' shares for Spanish, Italian and Polish; they "
    "all cost far less perplexity than steering.")

# (language, prompt tried, reached) as measured for the note above
PROMPT_EQUIVALENT_TRIALS: tuple[tuple[str, str, str], ...] = (
    ("de", "Answer in German:", "0/12"),
    ("de", "Auf Deutsch:", "3/12"),
    ("de", "Der folgende Text ist auf Deutsch.", "8/12"),
    ("de", "Ich bin hier, und wir sind mit dem Hund zu Hause.", "11/12"),
    ("de", "Dies ist ein Text auf Deutsch. Wir schreiben nur auf Deutsch.", "12/12"),
    ("es", "Answer in Spanish:", "0/12"),
    ("es", "En español:", "0/12"),
    ("es", "El siguiente texto está en español.", "4/12"),
    ("es", "Este es un texto en español. Escribimos solo en español.", "4/12"),
    ("es", "Este es mi perro. Yo estoy aquí con él, y nosotros estamos en casa.", "2/12"),
    ("es", "Este es un texto en español, y yo no hablo más que español con mi familia.", "2/12"),
    ("es", "Yo estoy aquí, y nosotros estamos en casa con el perro.", "4/12"),
    ("it", "Answer in Italian:", "0/12"),
    ("it", "In italiano:", "0/12"),
    ("it", "Il testo seguente è in italiano.", "3/12"),
    ("it", "Questo è un testo in italiano. Scriviamo solo in italiano.", "3/12"),
    ("it", "Questo è un testo in italiano, e io non parlo che italiano con la mia famiglia.",
     "4/12"),
    ("it", "Questo è il mio cane. Io sono qui con lui, e noi siamo a casa.", "7/12"),
    ("it", "Io sono qui, e noi siamo a casa con il cane.", "8/12"),
    ("pl", "Answer in Polish:", "0/12"),
    ("pl", "Po polsku:", "1/12"),
    ("pl", "Ten tekst jest po polsku.", "5/12"),
    ("pl", "Jestem tutaj, a my jesteśmy w domu z psem.", "3/12"),
    ("pl", "To jest tekst po polsku. Piszemy tylko po polsku.", "7/12"),
    ("pl", "To jest tekst po polsku. Piszemy tylko po polsku. Jestem tutaj, a my jesteśmy w "
     "domu.", "8/12"),
    ("ru", "Answer in Russian:", "0/12"),
    ("ru", "По-русски:", "5/12"),
    ("ru", "Этот текст на русском языке.", "8/12"),
    ("ru", "Это текст на русском языке. Мы пишем только по-русски.", "9/12"),
)
