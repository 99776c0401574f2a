"""Tells French from English text by counting each language's most common words (fast, deterministic)."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-zà-ÿœæ']+", re.IGNORECASE)

# Telling words, not stop words: each one is evidence for its language (accents and elisions kept, a few
# domain words such as "appel" or "deadline" added). What keyword search ignores is `knowledge.text.STOP_WORDS`.
_FR = frozenset(
    """le la les un une des du de et est sont pour par sur dans avec au aux ce cette ces qui que quoi quel quelle
    quels quelles où comment pourquoi quand ne pas plus nous vous ils elles son sa ses leur leurs mon ma mes
    notre nos votre vos été être avoir peut doit faut aussi mais ou donc car si entre chez très tout tous
    toutes après avant depuis lors dont même ainsi selon je tu il elle on y en l' d' qu' n' s' c' j' m'
    appel appels projets candidature date limite santé prochain prochaine atelier""".split()
)
_EN = frozenset(
    """the a an of and is are to for by on in with at this that these those which who what where how why
    when not no more we you they he she it its his her their our your be been being have has had can
    must should will would also but or so if between very all after before since from as such which
    i do does did than there here about into over call calls deadline health next workshop apply""".split()
)


def detect_language(text: str, default: str = "en") -> str:
    """Return "fr" or "en" for a text (``default`` when it holds no telling word).

    >>> detect_language("Quand a lieu le prochain atelier ?")
    'fr'
    """
    fr = en = 0.0
    for position, match in enumerate(_WORD.finditer(text[:5000])):
        # The opening words ("When was...", "Quand a lieu...") say more than a quoted name further on.
        weight = 2.0 if position < 3 else 1.0
        word = match.group(0).lower()
        if "'" in word:  # élisions: l'appel, d'innovation
            head = word.split("'", 1)[0] + "'"
            if head in _FR:
                fr += weight
            word = word.split("'", 1)[1]
        if word in _FR:
            fr += weight
        if word in _EN:
            en += weight
        if any(c in word for c in "éèêàçùûôîœ"):
            fr += 0.5
    if fr == en:
        return default
    return "fr" if fr > en else "en"
