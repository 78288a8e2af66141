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
