"""The words of a text as search sees them: accents folded, stop words dropped, words stemmed, names picked
out. No I/O.

Retrieval (BM25 and keyword coverage), the time words of questions, the extractive answerer and the
conversation's follow-up rule all read words through this module, so they agree on what a word is.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Mapping

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_FRENCH


def fold(text: str) -> str:
    """Lower case without accents.

    >>> fold("Éligibilité")
    'eligibilite'
    """
    return unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()


# French and English together: questions and passages cross languages, and a word that carries nothing in one
# ("de", "the") names nothing in the other. The libraries' lists (bm25s: NLTK's English, Snowball's French)
# lack the words questions are made of ("quel", "comment", "must", "peut"): those are added. Folded, as
# `keywords` compares them. Measured on the dev sets against the lists alone and against the hand-kept list
# this replaces: see README, "How answers are made".
_QUESTION_WORDS = """quel quelle quels quelles quoi comment quand cet cette sans plus leurs elles etre avoir
    faire fait peut peuvent dois doit faut combien could would may might must shall us much many""".split()
STOP_WORDS = frozenset(fold(w) for w in (*STOPWORDS_EN_PLUS, *STOPWORDS_FRENCH, *_QUESTION_WORDS))
_TOKEN = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")
_NAME_PHRASE = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w'’]*(?:[ \t]+[A-Z][\w'’]*)+")
_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b(?:[A-Z][\w'’-]*|\w*\d[\w-]*|[a-z]+-?[A-Z][\w'’-]*)")  # + "i-Nov", "eIDAS"
_STEMMERS = threading.local()  # PyStemmer's stemmers are not thread-safe: one pair per thread


def stem(word: str) -> str:
    """The English, then French Snowball stem of a folded word (one form for 'calls', 'appels', 'ouvertes').

    >>> [stem(w) for w in ("calls", "appels", "ouvertes")]
    ['call', 'appel', 'ouvert']
    """
    pair = getattr(_STEMMERS, "pair", None)
    if pair is None:
        pair = _STEMMERS.pair = (Stemmer.Stemmer("english"), Stemmer.Stemmer("french"))
    english, french = pair
    return french.stemWord(english.stemWord(word))


# Changes whenever `keywords` reads text differently: the keyword index re-reads every source once (its
# versions carry it, `knowledge.keyword_index.source_version`).
TOKENS_VERSION = "2"  # 2: typographic apostrophes, compound names
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "‘": "'"})
_COMPOUND = re.compile(r"\b([a-z0-9]{3,})'([a-z0-9]{2,})\b")
# "jusqu'ici", "aujourd'hui", "quelqu'un" are words, not names; nor are English contractions ("they're").
_NOT_COMPOUND = frozenset("lorsqu puisqu jusqu quoiqu presqu aujourd quelqu re ve ll".split())


def keywords(text: str) -> list[str]:
    """Keyword tokens: folded, stop words dropped, words stemmed, identifiers kept whole and in parts; French
    elisions read the same with a typographic apostrophe ("l’innovation" as "l'innovation"), and a name made
    of two words joined by one ("Innov'Santé") is also kept whole.

    >>> keywords("Appels HORIZON-HLTH-2025-01 ouverts ?")
    ['appel', 'horizon-hlth-2025-01', 'horizon', 'hlth', '2025', '01', 'ouvert']
    >>> keywords("l’innovation d’entreprise"), keywords("l'appel Innov’Santé"), keywords("Innov'Up they're")
    (['innov', 'entrepr'], ['appel', 'innov', 'sant', 'innovsante'], ['innov', 'innovup'])
    """
    folded = fold(text.translate(_APOSTROPHES))
    out: list[str] = []
    for token in _TOKEN.findall(folded):
        parts = re.split(r"[-_.]", token)
        if len(parts) > 1:
            out.append(token)
            out.extend(p for p in parts if p and p not in STOP_WORDS)
        elif token not in STOP_WORDS and (len(token) > 1 or token.isdigit()):
            out.append(stem(token))
    out.extend(first + second for first, second in _COMPOUND.findall(folded)
               if first not in _NOT_COMPOUND and second not in _NOT_COMPOUND)
    return out


def names(question: str) -> set[str]:
    """Keywords of the question's names: capitalised words past the first, acronyms, identifiers.

    >>> sorted(names("Quelle est la date limite de l'EIC Accelerator ?"))
    ['accel', 'eic']
    >>> sorted(names("What is the deadline of the i-Nov call?")), sorted(names("Is eIDAS required?"))
    (['i-nov', 'nov'], ['eid'])
    """
    return {k for match in _NAME.findall(question.strip()) for k in keywords(match)}


def name_phrases(question: str) -> list[str]:
    """The question's names of two capitalised words or more, whole ("Health Innovation Summit", "Demo Day"):
    their kind of event is part of the name, where "Workshop" alone (German capitalises every noun) is not.

    >>> name_phrases("Wann ist der Health Innovation Summit?"), name_phrases("Ist der Cybersicherheits-Workshop frei?")
    (['Health Innovation Summit'], [])
    """
    return _NAME_PHRASE.findall(question.strip())


def chunk_tokens(document: str, metadata: Mapping[str, object]) -> list[str]:
    """The keywords a chunk is found by in the keyword index: its title, heading and reference, then its text."""
    return keywords(f"{metadata.get('title', '')} {metadata.get('heading', '')} "
                    f"{metadata.get('reference', '')} {document}")
