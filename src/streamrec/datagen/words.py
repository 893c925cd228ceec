"""Pseudo-words for category names, tags and item texts: pronounceable, unique, seeded.

Words are consonant-vowel syllables ("kavo", "mirute"). Each word is the base-70 spelling of a
distinct random code, so a list never repeats a word, whatever its length.

>>> import numpy as np
>>> words = unique_words(5, np.random.default_rng(0))
>>> len(set(words)), all(word.isalpha() for word in words)
(5, True)
"""

from __future__ import annotations

import numpy as np

_SYLLABLES = tuple(c + v for c in "bdfgklmnprstvz" for v in "aeiou")


def unique_words(count: int, rng: np.random.Generator) -> list[str]:
    """``count`` distinct words of at least two syllables, in random order."""
    base = len(_SYLLABLES)
    n_syllables = 2
    # a sparse code space keeps neighbouring words from looking alike
    while base**n_syllables < 4 * count:
        n_syllables += 1
    codes = rng.choice(base**n_syllables, size=count, replace=False)
    places = base ** np.arange(n_syllables, dtype=np.int64)
    digits = (codes[:, None] // places[None, :]) % base
    return ["".join(_SYLLABLES[d] for d in row) for row in digits.tolist()]
