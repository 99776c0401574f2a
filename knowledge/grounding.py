"""Checks a chat model's reply against the passages it cites, sentence by sentence. No I/O.

Every number, amount, date, time, identifier, web address and proper name a sentence states must be found in a
passage that sentence cites. Written forms are compared by value, so honest rewording passes: "20 000 000",
"20,000,000", "20 000 000 EUR" and "€20 million" are one amount; "15 March 2027", "15 mars 2027",
"15. März 2027", "2027-03-15" and "15/03/2027" one date; names are compared without case or accents. Citation
markers and the numbers of list items are not facts.

Which passages a sentence cites: its own markers. A sentence without any borrows those of the next sentence of
its paragraph that has some ("The call funds SMEs. Apply by 4 March 2027 [1]." cites [1] in both), because
models often cite once, at the end of a paragraph; a line ending with ":" and the list item after it count as one
paragraph. A sentence with no cited sentence after it in its paragraph cites nothing: if it states a fact, the
check fails. Each list item is a paragraph of its own, so an item never borrows from the next.

Not checked (documented leniency): currencies and units (an amount is compared by value), numbers written as
words in the reply, a capitalised word opening a sentence (it cannot be told from an ordinary word: "Bpifrance
funds it" is not caught, "It is funded by Bpifrance" is), and in German replies ordinary capitalised words (German
capitalises every noun; acronyms, identifiers and CamelCase names are still checked).

>>> passage = facts_of("Deadline: 2027-03-04. Budget: Grant up to EUR 2.5 million")
>>> unsupported("Apply by 4 March 2027 for up to €2,500,000.", [passage])
[]
>>> unsupported("Apply by 14 March 2027 to the European Innovation Council.", [passage])
['14 March 2027', 'European', 'Innovation', 'Council']
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from knowledge.locales import catalogs

DateFact = tuple[int | None, int | None, int | None]  # (year, month, day); None where the text does not say

_SAME_WIDTH = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "’": "'", "‘": "'", "–": "-", "—": "-",
                             "‑": "-", "“": '"', "”": '"'})


def plain(text: str) -> str:
    """Accents off, case kept, one character for one (spans found in it are spans of the original).

    >>> plain("15. März – l’EIC")
    "15. Marz - l'EIC"
    """
    out = []
    for ch in text.translate(_SAME_WIDTH):
        if ord(ch) < 128:
            out.append(ch)
            continue
        base = unicodedata.normalize("NFKD", ch)[0]
        out.append(base if ord(base) < 128 else ch)
    return "".join(out)


def fold(text: str) -> str:
    """`plain`, lower case, "ß" as "ss": how words are compared."""
    return plain(text).lower().replace("ß", "ss")


@dataclass(frozen=True)
class Facts:
    """What a passage states, in comparable form (`facts_of`)."""

    dates: frozenset[DateFact]
    times: frozenset[tuple[int, int]]
    numbers: frozenset[float]
    words: frozenset[str]
    text: str  # folded, for web addresses
    squashed: str  # folded letters and digits only, for identifiers written with other separators


@dataclass(frozen=True)
class Sentence:
    """One sentence of a reply: its span (markers included), its text to check, the passages it cites."""

    start: int
    end: int
    text: str  # without list number, citation markers or Markdown emphasis
    cites: tuple[int, ...]
    paragraph: int
    closed: bool  # complete: more text follows it, or its line (or the reply) ended


@dataclass(frozen=True)
class _Fact:
    kind: str  # date, time, number, ident, address, name
    shown: str  # as the reply writes it
    # date: DateFact; time: (hour, minute); number: (values meant, values of the digits alone); else folded text
    value: Any


# --- the vocabulary of every catalog --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Vocabulary:
    months: dict[str, int]
    bare_months: frozenset[str]  # month names that are a date on their own ("in March"), not abbreviations
    number_words: dict[str, int]
    not_names: frozenset[str]  # capitalised words that are never names: months, days, language names
    no_answer: re.Pattern[str]
    patterns: dict[str, re.Pattern[str]]


@lru_cache(maxsize=1)
def _vocabulary() -> _Vocabulary:
    modules = list(catalogs().values())
    months: dict[str, int] = {word: n for module in modules for word, n in module.MONTHS.items()}
    # "sept" is also French for seven, "mai"/"mar"/"may" are words too: a bare month must be a long name.
    bare = frozenset(w for w in months if len(w) >= 4 and w not in {"sept", "janv", "juil"})
    number_words = {fold(w): n for module in modules for w, n in getattr(module, "NUMBER_WORDS", {}).items()}
    days = {fold(w) for module in modules for w in str(getattr(module, "WEEKDAYS", "")).split()}
    names = {fold(str(module.NAME)) for module in modules}
    no_answer = re.compile("|".join(f"(?:{p})" for module in modules for p in getattr(module, "NO_ANSWER_WORDS", [])))
    month = "|".join(sorted(months, key=len, reverse=True))
    bare_month = "|".join(sorted(bare, key=len, reverse=True))
    year = r"(?P<y>\d{4})\b"
    patterns = {
        # dates, most specific first
        "iso": r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b",
        "numeric": r"\b(?P<d>\d{1,2})[/.](?P<m>\d{1,2})[/.](?P<y>\d{4}|\d{2})\b",
        "day_month": rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th|er|\.)?\s*(?:of\s+|de\s+)?(?P<mon>{month})\b\.?"
                     rf"(?:,?\s+{year})?",
        "month_day": rf"\b(?P<mon>{month})\b\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+{year})?",
        "month_year": rf"\b(?P<mon>{month})\b\.?\s+{year}",
        "bare_month": rf"\b(?P<mon>{bare_month})\b",
        # times of day
        "ampm": r"\b(?P<h>\d{1,2})(?:[:.](?P<mi>\d{2}))?\s*(?P<ap>[ap])\.?m\b\.?",
        "uhr": r"\b(?P<h>\d{1,2})(?:[:.](?P<mi>\d{2}))?\s*uhr\b",
        "clock": r"\b(?P<h>\d{1,2})\s?(?::|h)\s?(?P<mi>\d{2})\b",
        "hour": r"\b(?P<h>\d{1,2})\s?h\b",
        # web and mail addresses, identifiers (a letter first, a digit somewhere: EIC-ACC-2027, H2020)
        "address": r"(?:\bhttps?://|\bwww\.)[^\s<>()\[\]]+|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
        "ident": r"(?<![\w-])[A-Za-z][A-Za-z0-9]*(?:[-_/][A-Za-z0-9]+)*(?![\w-])",
        # numbers, with the scale words and suffixes of amounts
        "number": r"(?<![\w.,])(?P<n>\d{1,3}(?:[ ,.']\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?)"
                  r"(?:\s?(?P<scale>millions?|millionen|mio|milliards?|milliarden?|mrd|billions?|thousand|tausend"
                  r"|mille)\b\.?|(?P<suffix>k|m|bn|mn)\b)?",
    }
    units = {"eur", "euro", "euros", "usd", "chf", "gbp"}  # amounts are compared by value, whatever the currency
    return _Vocabulary(months, bare, number_words, frozenset(months) | days | names | units | {"i"},
                       no_answer, {k: re.compile(v, re.IGNORECASE) for k, v in patterns.items()})


_SCALES = {"k": 1e3, "thousand": 1e3, "tausend": 1e3, "mille": 1e3, "m": 1e6, "mn": 1e6, "mio": 1e6,
           "million": 1e6, "millions": 1e6, "millionen": 1e6, "bn": 1e9, "mrd": 1e9, "milliard": 1e9,
           "milliards": 1e9, "milliarde": 1e9, "milliarden": 1e9, "billion": 1e9, "billions": 1e9}


# --- reading facts -------------------------------------------------------------------------------------------


def _values(written: str) -> set[float]:
    """The values a written number may mean: "2,500" is 2500 in English and 2.5 in French.

    >>> sorted(_values("2,500")), _values("20 000 000"), _values("2,5"), _values("1.234,5")
    ([2.5, 2500.0], {20000000.0}, {2.5}, {1234.5})
    """
    t = written.replace(" ", "").replace("'", "")
    if "," in t and "." in t:
        decimal = "," if t.rfind(",") > t.rfind(".") else "."
        group = "." if decimal == "," else ","
        return {float(t.replace(group, "").replace(decimal, "."))}
    for sep in ",.":
        if sep in t:
            parts = t.split(sep)
            if len(parts) > 2:
                return {float("".join(parts))}
            whole, frac = parts
            if len(frac) == 3:
                return {float(whole + frac), float(f"{whole}.{frac}")}
            return {float(f"{whole}.{frac}")}
    return {float(t)}


def _date(kind: str, match: re.Match[str]) -> DateFact | None:
    groups = match.groupdict()
    months = _vocabulary().months
    year = int(groups["y"]) if groups.get("y") else None
    if year is not None and year < 100:
        year += 2000
    month = months[groups["mon"].lower()] if groups.get("mon") else int(groups["m"])
    day = int(groups["d"]) if groups.get("d") else None
    if kind == "numeric" and month > 12 and day is not None and day <= 12:
        day, month = month, day  # 03/15/2027: month first
    if not 1 <= month <= 12 or (day is not None and not 1 <= day <= 31):
        return None
    return (year, month, day)


def _time(match: re.Match[str]) -> tuple[int, int] | None:
    groups = match.groupdict()
    hour, minute = int(groups["h"]), int(groups.get("mi") or 0)
    if groups.get("ap"):
        hour = hour % 12 + (12 if groups["ap"].lower() == "p" else 0)
    return (hour, minute) if hour < 24 and minute < 60 else None


def _scan(text: str, *, names: bool, language: str = "") -> list[_Fact]:
    """The facts `text` states, in the order: addresses, dates, times, identifiers, numbers, then names. Each
    match is blanked before the next kind is looked for, so "4 March 2027" is not also the numbers 4 and 2027."""
    vocabulary = _vocabulary()
    work = list(plain(text))
    facts: list[_Fact] = []

    def take(kind: str, read: Callable[[re.Match[str]], object | None]) -> None:
        for match in vocabulary.patterns[kind].finditer("".join(work)):
            value = read(match)
            if value is None:
                continue
            shown = text[match.start() : match.end()].strip()
            facts.append(_Fact(_KIND.get(kind, kind), shown.rstrip(".,;:!?)"), value))
            work[match.start() : match.end()] = " " * (match.end() - match.start())

    take("address", lambda m: fold(m.group().rstrip(".,;:!?)")))
    for kind in ("iso", "numeric", "day_month", "month_day", "month_year", "bare_month"):
        take(kind, partial(_date, kind))
    for kind in ("ampm", "uhr", "clock", "hour"):
        take(kind, _time)
    take("ident", lambda m: _squash(m.group()) if any(c.isdigit() for c in m.group()) else None)
    take("number", _number)
    if names:
        facts.extend(_names("".join(work), text, language))
    return facts


_KIND = {"iso": "date", "numeric": "date", "day_month": "date", "month_day": "date", "month_year": "date",
         "bare_month": "date", "ampm": "time", "uhr": "time", "clock": "time", "hour": "time"}


def _number(match: re.Match[str]) -> tuple[frozenset[float], frozenset[float]]:
    """(what the number means, what its digits alone say): "€20 million" is (20 000 000, 20)."""
    values = _values(match.group("n"))
    scale = (match.group("scale") or match.group("suffix") or "").lower().rstrip(".")
    factor = _SCALES.get(scale, 1.0)
    return frozenset(round(v * factor, 6) for v in values), frozenset(round(v, 6) for v in values)


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold(text))


_WORD = re.compile(r"[^\W\d_][\w'-]*")


def _names(work: str, original: str, language: str) -> list[_Fact]:
    """Proper names: acronyms anywhere, capitalised words not opening a sentence (not in German, where every
    noun is capitalised: there only CamelCase names), each part of "Innov'Santé" or "Rhône-Alpes" on its own."""
    not_names = _vocabulary().not_names
    out: list[_Fact] = []
    for match in _WORD.finditer(work):
        before = work[: match.start()].rstrip(" \t\"'«*_`")
        opening = not before or before[-1] in ".!?:;•-("
        position = match.start()
        for k, piece in enumerate(re.split(r"(['-])", match.group())):
            if piece in {"'", "-"} or len(piece) < 2:
                position += len(piece)
                continue
            shown = original[position : position + len(piece)]
            position += len(piece)
            if fold(piece) in not_names:
                continue
            letters = [c for c in piece if c.isalpha()]
            acronym = len(letters) >= 2 and all(c.isupper() for c in letters)
            capitalised = piece[0].isupper() and not (opening and k == 0)
            camel = bool(re.search(r"[a-z][A-Z]", piece))
            if acronym or camel or (capitalised and language != "de"):
                out.append(_Fact("name", shown, fold(piece)))
    return out


def facts_of(text: str) -> Facts:
    """Everything a passage states that a reply may repeat (read generously: "EUR 2.5 million" is 2 500 000
    and 2.5, a date's year, month and day are numbers too, "two years" says 2)."""
    numbers: set[float] = set()
    dates: set[DateFact] = set()
    times: set[tuple[int, int]] = set()
    for fact in _scan(text, names=False):
        if fact.kind == "date":
            date = fact.value
            assert isinstance(date, tuple)
            dates.add(date)
            numbers.update(float(part) for part in date if part is not None)
        elif fact.kind == "time":
            assert isinstance(fact.value, tuple)
            times.add(fact.value)
            numbers.update(float(part) for part in fact.value)
        elif fact.kind == "number":
            assert isinstance(fact.value, tuple)
            numbers.update(fact.value[0] | fact.value[1])
    folded = fold(text)
    words = frozenset(re.findall(r"[a-z0-9]+", folded))
    numbers.update(float(n) for word, n in _vocabulary().number_words.items() if word in words)
    return Facts(frozenset(dates), frozenset(times), frozenset(numbers), words, folded, _squash(text))


def _supported(fact: _Fact, passage: Facts) -> bool:
    if fact.kind == "date":
        year, month, day = fact.value
        for y, m, d in passage.dates:
            if month != m or (day is not None and day != d):
                continue
            if year is None or year == y or (y is None and float(year) in passage.numbers):
                return True
        return False
    if fact.kind == "time":
        return fact.value in passage.times
    if fact.kind == "number":
        meant, _ = fact.value
        return not passage.numbers.isdisjoint(meant)
    if fact.kind == "ident":
        return str(fact.value) in passage.squashed
    if fact.kind == "address":
        return str(fact.value) in passage.text
    name = str(fact.value)
    return name in passage.words or (name.endswith("s") and name[:-1] in passage.words)


def unsupported(sentence: str, passages: Iterable[Facts], language: str = "") -> list[str]:
    """The facts `sentence` states that none of `passages` (the ones it cites) does, as the sentence writes
    them; empty when the sentence is grounded (or states no fact).

    >>> unsupported("La cotisation est de 900 € HT [1].", [facts_of("La cotisation annuelle est de 900 EUR HT.")])
    []
    """
    cited = list(passages)
    return [fact.shown for fact in _scan(without_markers(sentence), names=True, language=language)
            if not any(_supported(fact, passage) for passage in cited)]


def states_facts(sentence: str, language: str = "") -> bool:
    """Whether a sentence states anything `unsupported` would check."""
    return bool(_scan(without_markers(sentence), names=True, language=language))


# --- the reply's sentences and citations ------------------------------------------------------------------------

_MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*[,;-]\s*\d{1,3})*)\s*\]")
_LIST_ITEM = re.compile(r"[ \t]*(?:[-•*+]|\d{1,2}[.)])[ \t]+")
# The end of a sentence: . ! ? … (and the citation markers after it) before a space and a capital or digit.
_END = re.compile(r"[.!?…]+(?:[\"»”')*]*\s*\[\s*\d[\d\s,;-]*\])*[\"»”')*]*(?=\s+[\"«“(*]*[A-ZÀ-ÖØ-Þ0-9•-])")
_ABBREVIATIONS = frozenset("e.g i.e etc cf vs no nr n° dr mr mrs ms st art approx ca env z.b d.h bzw usw ggf inkl "
                           "max min mme m p pp ref réf fig".split())


def cited_numbers(text: str) -> list[int]:
    """Every passage number cited, in order ("[2][1]" -> [2, 1]; "[1, 3]" -> [1, 3]; "[2-4]" -> [2, 3, 4])."""
    return [n for match in _MARKER.finditer(text) for n in _marker_numbers(match.group(1))]


def _marker_numbers(inner: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", inner.strip()):
        if "-" in part:
            low, high = (int(p) for p in part.split("-", 1))
            numbers.extend(range(low, min(high, low + 9) + 1) if low <= high else [low, high])
        elif part:
            numbers.append(int(part))
    return list(dict.fromkeys(numbers))


def renumber(text: str, order: dict[int, int]) -> str:
    """Citation markers written with the new numbers `order` gives, one bracket each ("[3, 1]" -> "[1][2]")."""
    def new(match: re.Match[str]) -> str:
        return "".join(f"[{order.get(n, n)}]" for n in _marker_numbers(match.group(1)))

    return _MARKER.sub(new, text)


def cited_to(sentence: str, n: int) -> str:
    """The sentence with its citation markers replaced by one, `[n]`, before its final stop.

    >>> cited_to("Non-members pay 1,500 EUR [2]. ", 1)
    'Non-members pay 1,500 EUR [1]. '
    """
    trailing = sentence[len(sentence.rstrip()):]
    body = _MARKER.sub("", sentence).rstrip()
    stop = re.search(r"[.!?…]+$", body)
    if stop:
        return f"{body[:stop.start()].rstrip()} [{n}]{stop.group()}{trailing}"
    return f"{body} [{n}]{trailing}"


def without_markers(text: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", _MARKER.sub("", text))


def sentences(reply: str, *, finished: bool = True) -> list[Sentence]:
    """The reply's sentences with their spans, citations and paragraphs. While the reply is still being written
    (`finished=False`) its last sentence is not `closed`: more may be added to it."""
    out: list[Sentence] = []
    paragraph, blank, after_item, intro = -1, True, False, False
    offset = 0
    lines = reply.split("\n")
    for index, line in enumerate(lines):
        line_start, offset = offset, offset + len(line) + 1
        if not line.strip():
            blank = True
            continue
        item = _LIST_ITEM.match(line)
        if blank or (item and not intro) or (after_item and not item):
            paragraph += 1
        body = without_markers(line).strip()
        blank, after_item, intro = False, bool(item), body.endswith(":")
        ended = index < len(lines) - 1 or finished
        spans = _split_line(line, item.end() if item else len(line) - len(line.lstrip()))
        for k, (start, end) in enumerate(spans):
            piece = line[start:end]
            out.append(Sentence(start=line_start + start, end=line_start + end, text=_checkable(piece),
                                cites=tuple(cited_numbers(piece)), paragraph=paragraph,
                                closed=k < len(spans) - 1 or ended))
    return out


def _split_line(line: str, start: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for match in _END.finditer(line, start):
        if match.start() < start or _not_an_end(line, start, match):
            continue
        spans.append((start, match.end()))
        start = match.end() + (len(line[match.end():]) - len(line[match.end():].lstrip()))
    if line[start:].strip():
        spans.append((start, len(line.rstrip())))
    return spans


def _not_an_end(line: str, start: int, match: re.Match[str]) -> bool:
    """An abbreviation ("e.g.", "Dr.") or a German day ("am 4. März") is not the end of a sentence."""
    words = line[start : match.start()].split()
    if not words:
        return True
    last = words[-1].lower().rstrip(".")
    if last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
        return True
    if last.isdigit() and len(last) <= 2 and match.group().startswith("."):
        following = line[match.end():].split()
        return bool(following) and fold(following[0]).rstrip(".,") in _vocabulary().months
    return False


def _checkable(piece: str) -> str:
    return re.sub(r"[*`]+", "", without_markers(piece)).lstrip("#").strip()


def says_no_answer(text: str) -> bool:
    """Whether a reply says, in words, that the passages do not answer (French, English or German).

    >>> says_no_answer("Les passages ne précisent pas la date."), says_no_answer("The deadline is 4 March.")
    (True, False)
    """
    return bool(_vocabulary().no_answer.search(fold(text)))


def effective_cites(units: Sequence[Sentence], index: int, *, finished: bool = True) -> tuple[int, ...] | None:
    """The passages sentence `index` cites: its own, else those of the next sentence of its paragraph that cites;
    () when none does; None while that cannot be known yet (the reply is still being written)."""
    unit = units[index]
    if unit.cites:
        return unit.cites
    for later in units[index + 1 :]:
        if later.paragraph != unit.paragraph:
            return ()
        if not later.closed:
            return None
        if later.cites:
            return later.cites
    return () if finished else None


__all__ = ["Facts", "Sentence", "cited_numbers", "cited_to", "effective_cites", "facts_of", "fold", "plain", "renumber",
           "says_no_answer", "sentences", "states_facts", "unsupported", "without_markers"]
