"""Texts the catalog tests build from (a module of its own: `conftest` names clash across
test folders on sys.path)."""

# Short texts: each fits one chunk, so a snippet window (32 before, 32 after) is the whole
# chunk and its values can be checked against a direct encode.
TEXTS = [
    {"text": "the quick brown fox jumps over the lazy dog.", "lang": "en"},
    {"text": "Der schnelle braune Fuchs springt.", "lang": "de"},
    {"text": "El zorro marron salta sobre el perro.", "lang": "es"},
    {"text": "hello world, steering models is fun!", "lang": "en"},
    {"text": "0123456789 the lazy dog", "lang": "en"},
    {"text": "Der Fuchs springt über den Hund.", "lang": "de"},
    {"text": "the fox and the dog", "lang": "en"},
    {"text": "steering the brown fox", "lang": "en"},
    {"text": "El perro salta.", "lang": "es"},
    {"text": "quick quick quick brown", "lang": "en"},
    {"text": "models is fun, hello!", "lang": "en"},
    {"text": "springt schnelle Fuchs Der", "lang": "de"},
]
