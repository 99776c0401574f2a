"""Tells the languages of `knowledge.locales` apart (French, English, German) by counting each one's most
common words (fast, deterministic)."""

from __future__ import annotations

import re
from functools import lru_cache

from knowledge.locales import catalogs

_WORD = re.compile(r"[a-zß-ÿœæ']+", re.IGNORECASE)


@lru_cache(maxsize=1)
def _telling_words() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """Each language's telling words (not stop words: each one is evidence for its language; accents and
    elisions kept) and the accented letters only it writes. What keyword search ignores is
    `knowledge.text.STOP_WORDS`."""
    return {code: (frozenset(str(module.TELLING_WORDS).split()), frozenset(str(module.ACCENTS)))
            for code, module in catalogs().items()}


def detect_language(text: str, default: str = "en") -> str:
    """Return the code of the language a text is in ("en", "fr", "de"; ``default`` when no language leads).

    >>> detect_language("Quand a lieu le prochain atelier ?")
    'fr'
    >>> detect_language("Wann ist der nächste KI-Workshop?")
    'de'
    """
    languages = _telling_words()
    scores = dict.fromkeys(languages, 0.0)
    for position, match in enumerate(_WORD.finditer(text[:5000])):
        # The opening words ("When was...", "Quand a lieu...") say more than a quoted name further on.
        weight = 2.0 if position < 3 else 1.0
        word = match.group(0).lower()
        if word == "i" and text[match.end():match.end() + 1] == "-":
            continue  # "i-Nov", "e-santé" name things; "am i eligible" is English
        head = ""
        if "'" in word:  # élisions: l'appel, d'innovation
            head, word = word.split("'", 1)[0] + "'", word.split("'", 1)[1]
        for code, (words, accents) in languages.items():
            if head and head in words:
                scores[code] += weight
            if word in words:
                scores[code] += weight
            if not accents.isdisjoint(word):  # ingestion runs this on every record: a set test, not a loop
                scores[code] += 0.5
    best = max(scores.values())
    leaders = [code for code, score in scores.items() if score == best]
    return leaders[0] if len(leaders) == 1 else default
