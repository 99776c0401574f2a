"""Whether a call or an event is about a topic someone follows ("medical AI"), by meaning and by words, in French,
English or German alike. No I/O but the embedder's.

Two signals, measured on `bench/follow_bench.py`'s labelled set:

- meaning: the cosine between the topic and the item's title and description (the multilingual model puts
  "medical AI" near "intelligence artificielle pour le diagnostic");
- words: each word of the topic is found in the item, by its stem ("imaging" in "Medical imaging day") or by a
  word of the item of the same meaning in any language ("AI" ~ "IA", `topic_word_similarity`, as listing answers
  match topic words in `knowledge.answering`).

An item matches when every topic word is found and the meaning is close enough (`with_words`), or when the
meaning alone is very close (`alone`): a shared word in an unrelated item ("AI" in an AI-for-logistics call) is
not enough, and neither is a vague likeness of meaning.

>>> topic_terms("medical AI"), topic_terms("l'imagerie médicale"), topic_terms("AI in healthcare")
(['medical', 'AI'], ['imagerie', 'médicale'], ['AI', 'healthcare'])
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

import numpy as np

from knowledge.embedding import Embedder
from knowledge.locales import LANGUAGES, acronym_forms, catalogs
from knowledge.text import fold, keywords
from knowledge.time_scope import topical_words

_WORD = re.compile(r"\w[\w'’-]*")
_ELISION = re.compile(r"^(?:[ldjmnstc]|qu)['’]", re.IGNORECASE)  # "l'imagerie" -> "imagerie"
_CACHE_SIZE = 20000
_PART_MIN = 5  # letters of each part of a compound read as two words ("partner" + "suche")
_COMPOUND_MIN = 11  # letters of a question word read as a compound ("partnercafe"; not "healthcare", "workshop")
_DESCRIPTION_TERMS = 40  # words of an item compared by meaning: the title's, then the description's first ones


@dataclass(frozen=True)
class MatchThresholds:
    """The numbers of the decision; the defaults are measured (`bench/follow_bench.py`, README)."""

    # A short topic and a paragraph are never very close with the default model (0.1 to 0.3 for relevant
    # pairs): the words decide, the meaning vetoes the unrelated and admits the nearly named.
    with_words: float = 0.10  # every topic word found, and the cosine at least this
    some_words: float = 0.40  # half the topic's words found, and the cosine at least this
    alone: float = 0.50  # the cosine alone
    topic_word_similarity: float = 0.65  # a word of another language counts as the topic's word from this cosine


@dataclass(frozen=True)
class TopicMatch:
    """One item against one topic: the cosine, the share of the topic's words found, the decision."""

    dense: float
    words: float
    matched: bool


def topic_terms(text: str) -> list[str]:
    """The words of a topic (or a title) that say what it is about, in lower case: not stop words; acronyms kept
    as they are even when they are a stop word of another language ("AI" is French "ai"); French elisions
    dropped."""
    out = []
    for raw in _WORD.findall(text):
        word = _ELISION.sub("", raw).strip("'’-")
        if word.isupper() and len(word) > 1:
            out.append(word)
        elif len(word) > 2 and keywords(word) and not word.isdigit():
            out.append(word.lower())  # the model puts "Imagerie" further from "imaging" than "imagerie"
    return list(dict.fromkeys(out))


# An acronym in an item: "IA", "PMEs" (its plural), "MwSt" (two capitals at least)
_ACRONYM = re.compile(r"\b([A-Z][A-Za-z]*[A-Z][A-Za-z]*?)s?\b")
_CONTRACTION = re.compile(r"['’](?:s|m|re|ll|ve|d|t)$", re.IGNORECASE)  # "Bpifrance's" -> "Bpifrance"
_QUANTITY = re.compile(r"^\d+(?:[.,]\d+)?[-–]?[^\W\d_]*$")  # "40-employee", "72h", "2027": not a name


def _calendar_words() -> frozenset[str]:
    """Month and weekday names of every language: capitalised in English, never what a question is about."""
    words: set[str] = set()
    for module in catalogs().values():
        words |= set(module.MONTHS) | set(str(module.WEEKDAYS).split())
    return frozenset(fold(w) for w in words)


_CALENDAR_WORDS = _calendar_words()


@lru_cache(maxsize=1)
def _places_and_peoples() -> dict[str, tuple[str, ...]]:
    """One-word names of countries, regions and languages in every supported language (Unicode CLDR, through
    Babel), folded, by their first four letters: "France", "French", "Frankreich", "Europe", "allemand"."""
    from babel import Locale

    by_start: dict[str, set[str]] = {}
    for language in LANGUAGES:
        locale = Locale(language)
        for name in [*locale.territories.values(), *locale.languages.values()]:
            if " " not in name and len(name) > 3:
                word = fold(name)
                by_start.setdefault(word[:4], set()).add(word)
    return {start: tuple(words) for start, words in by_start.items()}


def is_place_or_people(word: str) -> bool:
    """A country, region, language or people ("France", "French", "Belgian", "European", "allemande"): the
    context of a question, not the programme or event it asks about. A word counts when it is such a name or
    shares all but its last two letters with one (at least five): "European" ~ "Europe", "Belgian" ~
    "Belgium".

    >>> [is_place_or_people(w) for w in ("France", "French", "Belgian", "European", "Eurostars", "Pathfinder")]
    [True, True, True, True, False, False]
    """
    folded = fold(word)
    for known in _places_and_peoples().get(folded[:4], ()):
        if folded == known:
            return True
        shared = len(os.path.commonprefix([folded, known]))
        if shared >= 5 and shared >= min(len(folded), len(known)) - 2:
            return True
    return False


def question_names(text: str, language: str) -> list[str]:
    """The names a question is about: capitalised words inside a sentence ("Eurostars", "Pathfinder") and codes
    mixing capitals and digits ("NIS2", "HORIZON-HLTH-2027"). Short acronyms are left out (their other language's
    form differs: RGPD/GDPR, IA/AI), as are months and weekdays, countries, languages and peoples ("Under French
    law", "in France": context, `is_place_or_people`), and in German every capitalised noun.

    >>> question_names("What is the deadline of the Eurostars call?", "en")
    ['Eurostars']
    >>> question_names("Quelle est la date limite de l'appel EIC Pathfinder ?", "fr")
    ['Pathfinder']
    >>> question_names("Under NIS2, what must a 40-employee SME report before March? I'm lost.", "en")
    ['NIS2']
    >>> question_names("Wann ist der nächste KI-Workshop in Lyon?", "de")
    []
    >>> question_names("Under French law, can a Belgian start-up join the Eurostars call?", "en")
    ['Eurostars']
    """
    names: list[str] = []
    previous = ""
    for token in text.split():
        word = _CONTRACTION.sub("", _ELISION.sub("", token.strip("?,.;:!()[]«»\"'’“”"))).strip("'’-")
        starts_sentence = not previous or previous.endswith((".", "?", "!", ":", "«", '"', "“"))
        previous = token
        if len(word) < 2 or _QUANTITY.match(word) or fold(word) in _CALENDAR_WORDS:
            continue
        has_digit = any(c.isdigit() for c in word)
        if not has_digit and not keywords(word):  # "The", "Est": a capitalised function word
            continue
        if has_digit and any(c.isupper() for c in word):
            names.append(word)
        elif (language != "de" and not starts_sentence and word[0].isupper() and not has_digit
              and not (word.isupper() and len(word) <= 5) and not is_place_or_people(word)):
            names.append(word)
    return list(dict.fromkeys(names))


def question_terms(question: str, *, hyphen_parts: bool = False) -> list[str]:
    """The words of a question that say what it is about: topical keywords, and acronyms even when they are
    also a stop word of another language ("AI" is French "ai"). `hyphen_parts`: also the parts of a
    hyphenated word ("franco-suisse": "suisse", which matches an event's "Switzerland"); left out of the
    rankings, where they cost the French gdpr questions 0.04 hit@5 ("sous-traitant": "sous").

    >>> question_terms("When is the next AI in healthcare workshop?")
    ['AI', 'healthcare']
    >>> question_terms("Wann ist der nächste KI-Workshop zu Medizin?")
    ['KI', 'Medizin']
    >>> question_terms("How much is the membership fee?")
    ['membership', 'fee']
    """
    topical = topical_words(keywords(question))
    words = [part for word in _WORD.findall(question) for part in re.split(r"[-_.’']", word) if part]
    return list(dict.fromkeys(
        word for word in words  # a two-letter lower-case word is a function word of some language ("zu")
        if (word.isupper() and len(word) > 1) or (len(word) > 2 and keywords(word) and (
            set(keywords(word)) <= topical or (hyphen_parts and fold(word) in topical)))))  # parts: unstemmed



def _compound_of(term: str, words: Sequence[str]) -> bool:
    """Whether a long word of the question is a compound ending with one of the item's words: German writes
    compounds as one word, and the last part says what it is ("Partnercafé" is a café: "Café partenaires";
    not the "Partner sourcing service").

    >>> _compound_of("Partnercafé", ["café", "partenaires"]), _compound_of("Partnercafé", ["partner", "sourcing"])
    (True, False)
    """
    folded = fold(term)
    return len(folded) >= _COMPOUND_MIN and any(
        len(w) >= 4 and w != folded and folded.endswith(w) for w in map(fold, words))


# Words an acronym leaves out ("Salon of the ..."): articles, prepositions, conjunctions
_INITIALS_SKIP = frozenset("of for and the to in on a an with by de du des la le les et en pour aux au à sur d l "
                           "für und der die das von zu im mit".split())


def spelled_by_initials(term: str, title: str) -> bool:
    """Whether an acronym of the question (4 to 6 capitals) is spelled by the initials of words in a row of a
    title ("EHDS": "European Health Data Space"), words like "of", "de" left out. Not 3 letters: "MDR" would
    be "Matinale Data & RGPD", "PME" "Prix Medtech Europe".

    >>> spelled_by_initials("EHDS", "Webinar — European Health Data Space: what changes"), spelled_by_initials(
    ...     "EHDS", "Health Data Hub")
    (True, False)
    """
    if not (4 <= len(term) <= 6 and term.isalpha() and term.isupper()):
        return False
    # "e-santé" is one word
    words = [w for w in re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)*", title) if w.lower() not in _INITIALS_SKIP]
    initials = "".join(w[0].upper() for w in words)
    return term in initials and any("".join(w[0].upper() for w in words[i:i + len(term)]) == term
                                    for i in range(len(words)))


@lru_cache(maxsize=1024)
def _compound_splits(folded: str) -> tuple[tuple[str, str], ...]:
    """The ways a (folded) word splits in two parts of `_PART_MIN` letters at least, a linking "s" left out of
    the first ("akkreditierungs|programm": "akkreditierung", "programm"); the same for every item compared."""
    return tuple((head[:-1] if head.endswith("s") and len(head) > _PART_MIN else head, folded[cut:])
                 for cut in range(_PART_MIN, len(folded) - _PART_MIN + 1) for head in [folded[:cut]])


_PART_LIKENESS = 0.75


def _parts_alike(term: str, word: str) -> bool:
    """Whether two (folded) words look alike only by a part of one of them, which single-word vectors take for
    likeness of meaning: "work" in "afterwork" (a part, with a word's worth of letters left), "afterwork" and
    "workshop" (four letters shared, not at the start of both). Words of one root share their start:
    "pitcher" ~ "pitch", "investisseurs" ~ "investors", "cybersécurité" ~ "cybersecurity" are not parts.

    >>> [_parts_alike("afterwork", w) for w in ("work", "after", "workshop", "pitch", "investors")]
    [True, True, True, False, False]
    """
    if word != term and word in term and len(term) - len(word) >= 3:
        return True
    match = SequenceMatcher(None, term, word, autojunk=False).find_longest_match(0, len(term), 0, len(word))
    return match.size >= 4 and (match.a, match.b) != (0, 0)


class TopicMatcher:
    """Matches topics against items with `embedder` (thread-safe enough: the cache only grows and is cleared).

    `match("medical AI", [("Appel IA santé", "Diagnostic par intelligence artificielle")])` -> [TopicMatch(...)]
    """

    def __init__(self, embedder: Embedder, thresholds: MatchThresholds | None = None) -> None:
        self.embedder = embedder
        self.thresholds = thresholds or MatchThresholds()
        self._words: dict[str, np.ndarray] = {}
        self._items: dict[str, np.ndarray] = {}

    def match(self, topic: str, items: Sequence[tuple[str, str]]) -> list[TopicMatch]:
        """Each (title, description) item against `topic`, in order."""
        return [self.decide(dense, words) for dense, words in self.scores(topic, items)]

    def decide(self, dense: float, words: float, thresholds: MatchThresholds | None = None) -> TopicMatch:
        t = thresholds or self.thresholds
        return TopicMatch(dense, words, (words >= 1.0 and dense >= t.with_words)
                          or (words >= 0.5 and dense >= t.some_words) or dense >= t.alone)

    def scores(self, topic: str, items: Sequence[tuple[str, str]],
               word_similarity: float | None = None) -> list[tuple[float, float]]:
        """(cosine, share of the topic's words found) of each item."""
        if not items:
            return []
        topic_vector = self.embedder.encode_queries([topic])[0]
        dense = self._passages([f"{title}\n{text}".strip() for title, text in items]) @ topic_vector
        return [(float(cosine), found) for cosine, found in
                zip(dense, self.words_found(topic_terms(topic), items, word_similarity))]

    def words_found(self, terms: Sequence[str], items: Sequence[tuple[str, str]],
                    word_similarity: float | None = None, *, compound_parts: bool = False) -> list[float]:
        """The share of `terms` each (title, description) item carries (`terms_found`)."""
        return [sum(found) / len(terms) if terms else 0.0
                for found in self.terms_found(terms, items, word_similarity, compound_parts=compound_parts)]

    def terms_found(self, terms: Sequence[str], items: Sequence[tuple[str, str]],
                    word_similarity: float | None = None, *, compound_parts: bool = False) -> list[list[bool]]:
        """Which of `terms` each (title, description) item carries: by stem, acronym, compound head, or by a
        word of the same meaning in another language (single-word vectors at least `word_similarity` apart);
        with `compound_parts`, also by both parts of a compound (`_parts_found`: for titles, where a short text
        carrying both parts says it; in descriptions a part's likeness finds too much)."""
        similar = self.thresholds.topic_word_similarity if word_similarity is None else word_similarity
        stems = {term: set(keywords(term)) for term in terms}
        forms = {term: acronym_forms(term) for term in terms}  # "KI" is "IA" in French, "AI" in English
        out = []
        for title, text in items:
            words = set(keywords(f"{title} {text}"))
            item_terms = (topic_terms(title) + topic_terms(text))[:_DESCRIPTION_TERMS]
            acronyms = {a.upper() for a in _ACRONYM.findall(f"{title} {text}")} if any(forms.values()) else set()
            out.append([bool((stems[term] and stems[term] <= words) or not forms[term].isdisjoint(acronyms)
                             or _compound_of(term, item_terms) or spelled_by_initials(term, title)
                             or self._same_meaning(term, item_terms, similar)
                             or (compound_parts and self._parts_found(term, item_terms, similar)))
                            for term in terms])
        return out

    def _parts_found(self, term: str, words: list[str], similar: float) -> bool:
        """Whether a long word of the question is a compound whose two parts are both among `words`, by their
        letters or by a word of the same meaning in another language: German writes "Akkreditierungsprogramm"
        for "accreditation programme" (a linking "s" left out of the first part). Each part five letters at
        least, and as close as a word to its translation (`_PART_LIKENESS`: "akkreditierung" ~ "accreditation"
        0.83), not merely 0.65 ("Pitchtraining": "aining" ~ "ageing")."""
        folded = fold(term)
        if len(folded) < _COMPOUND_MIN or not folded.isalpha() or not words:
            return False
        splits = _compound_splits(folded)
        candidates = [w for w in dict.fromkeys(map(fold, words)) if len(w) >= 3]
        vectors = self._vectors([*{part for split in splits for part in split}, *candidates])

        def found(part: str) -> bool:  # a fragment cut at the wrong letter ("aining") is near anything at 0.65
            return any(w.startswith(part) or (part.startswith(w) and len(w) >= _PART_MIN)
                       or float(np.dot(vectors[part], vectors[w])) >= max(similar, _PART_LIKENESS)
                       for w in candidates)

        return any(found(head) and found(tail) for head, tail in splits)

    def missing_names(self, names: Sequence[str], items: Sequence[tuple[str, str]], *,
                      compared: int = 3) -> list[str]:
        """The `names` none of the (title, text) items carries: by stem in any of them, or by a word of the same
        meaning in another language among the first `compared` items' words ("European" ~ "européenne")."""
        if not names or not items:
            return list(names)
        words: set[str] = set()
        for title, text in items:
            words |= set(keywords(f"{title} {text}"))
        stems = {name: set(keywords(name)) for name in names}
        missing = [name for name in names if not (stems[name] and stems[name] <= words)]
        if not missing:
            return []
        close = items[:compared]
        # A name joined by an apostrophe ("Innov'Up") is a coined word: its vector sits near its parts'
        # ("innovation"), so only its own letters find it.
        return [name for name in missing
                if re.search(r"\w['’]\w", name) or max(self.words_found([name.lower()], close)) == 0.0]

    def _passages(self, texts: list[str]) -> np.ndarray:
        """The items' vectors, kept: a run compares the same new items with every follower's topic."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._items]
        if missing:
            if len(self._items) > _CACHE_SIZE:
                self._items.clear()
            self._items.update(zip(missing, self.embedder.encode_passages(missing)))
        return np.stack([self._items[t] for t in texts])

    def nearest_words(self, terms: Sequence[str], vocabulary: Sequence[str], *, similarity: float,
                      per_term: int) -> list[str]:
        """For each term, the words of `vocabulary` nearest to it in meaning (at most `per_term`, cosine at least
        `similarity`), in the order of the terms: how a question's words are said in another language's text."""
        vocabulary = list(dict.fromkeys(vocabulary))
        if not terms or not vocabulary:
            return []
        vectors = self._vectors([*terms, *vocabulary])
        matrix = np.stack([vectors[word] for word in vocabulary])
        chosen: list[str] = []
        for term in terms:
            similarities = matrix @ vectors[term]
            chosen.extend(vocabulary[i] for i in np.argsort(-similarities)[:per_term] if similarities[i] >= similarity)
        return list(dict.fromkeys(chosen))

    def _same_meaning(self, term: str, words: list[str], similarity: float) -> bool:
        """Whether one of `words` means `term` (single-word vectors at least `similarity` apart), not counting a
        word that is merely a part of it: "afterwork" is near "work" and "after" in vectors, as a compound is
        near its parts, yet a talk on "work" is no afterwork ("pitcher" ~ "pitch" still counts: "er" is an
        ending, not a word). Words closer than `_PART_LIKENESS` count whatever their letters: "Konferenz" ~
        "conference" 0.90, "hôpital" ~ "hospital" 0.91, "health" ~ "eHealth" 0.85 (the parts' likeness that
        misleads is 0.66-0.69)."""
        if not words:
            return False
        vectors = self._vectors([term, *words])
        folded = fold(term)
        for word in words:
            close = float(np.dot(vectors[term], vectors[word]))
            if close >= similarity and (close >= _PART_LIKENESS or not _parts_alike(folded, fold(word))):
                return True
        return False

    def _vectors(self, words: list[str]) -> dict[str, np.ndarray]:
        """The words' vectors, cached; read from a local copy, as another thread may clear the cache meanwhile."""
        found = {w: v for w in dict.fromkeys(words) if (v := self._words.get(w)) is not None}
        missing = [w for w in dict.fromkeys(words) if w not in found]
        if missing:
            fresh = dict(zip(missing, self.embedder.encode_queries(missing)))
            if len(self._words) > _CACHE_SIZE:
                self._words.clear()
            self._words.update(fresh)
            found.update(fresh)
        return found


__all__ = ["MatchThresholds", "TopicMatch", "TopicMatcher", "question_terms", "topic_terms"]
