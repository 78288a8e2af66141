"""Choices made by reading the pocket catalog: features named by hand, keyed to the SAE they
were read from (a rebuilt SAE has other feature indices, so these apply only to this one).

The language features are not listed here: the catalog stage finds them by rule
(`steer_eval.rank_language_features`) and names them; their snippets were read and agree.
"""

SAE_FINGERPRINT = ""

HAND_LABELS: dict[int, str] = {}
