"""Turns retrieved passages into a reply in the question's language with numbered sources.

`ExtractiveAnswerer` (the offline default) quotes the most relevant sentences; `knowledge.chat_answering`
asks a chat model instead and falls back to it.
"""

from __future__ import annotations

import logging
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

import numpy as np

from knowledge.chunking import split_sentences
from knowledge.embedding import Embedder
from knowledge.locales import LANGUAGES, messages, written_date, written_day
from knowledge.models import is_cancelled
from knowledge.ranking import Hit, Ranking
from knowledge.text import fold, keywords
from knowledge.time_scope import TimeScope, asks_date, asks_price, intents, kinds_named, says_amount, says_when
from knowledge.topic_match import TopicMatcher, question_terms

logger = logging.getLogger(__name__)

def texts(language: str) -> dict[str, str]:
    """The answer sentences of `language` (`knowledge.locales`; English for a language without a catalog)."""
    return messages(language)


@dataclass
class SourceRef:
    """A numbered source as members see it."""

    n: int
    title: str
    url: str
    path: str
    kind: str
    snippet: str
    score: float
    language: str = ""
    dates: dict[str, str] = field(default_factory=dict)  # start/end/deadline/opens as shown
    status: str | None = None  # "open", "closed", "upcoming", "past", "cancelled"

    def as_dict(self) -> dict[str, object]:
        return {"n": self.n, "title": self.title, "url": self.url, "path": self.path, "kind": self.kind,
                "snippet": self.snippet, "score": round(self.score, 4), "language": self.language,
                "dates": self.dates, "status": self.status}


@dataclass
class Answer:
    """A reply body with [n] markers, and the sources they point to (in citation order)."""

    text: str
    language: str
    sources: list[SourceRef]
    abstained: bool = False
    note: str | None = None


@dataclass
class Question:
    """What an answerer needs: the question, its language, the time it is about, and today's date."""

    text: str
    language: str
    now: datetime
    scope: TimeScope = field(default_factory=TimeScope)
    listing: bool = False  # "which events / calls ..." questions: list the matches by date
    # A listing's items after its window ("Is there an office hour next Tuesday?" when that one is skipped):
    # when none in the window is about the question, the first of these that is, is named as the next one.
    later: Sequence[Hit] = ()


def status_of(meta: dict, now: datetime) -> str | None:
    """open/closed for calls, upcoming/past for events, from their sortable dates; cancelled when the source
    says so (an event or a call)."""
    now_ts = int(now.timestamp())
    if meta.get("kind") in {"funding_call", "event"} and is_cancelled(meta):
        return "cancelled"
    if meta.get("kind") == "funding_call" and "deadline_ts" in meta:
        return "open" if int(meta["deadline_ts"]) >= now_ts else "closed"
    if meta.get("kind") == "event" and "start_ts" in meta:
        return "upcoming" if int(meta.get("end_ts", meta["start_ts"])) >= now_ts else "past"
    return None


def source_ref(n: int, hit: Hit, now: datetime, snippet: str) -> SourceRef:
    meta = hit.metadata
    dates: dict[str, str] = {name: str(meta[name]) for name in ("start", "end", "deadline", "opens") if name in meta}
    return SourceRef(n=n, title=str(meta.get("title", "")), url=str(meta.get("url", "")),
                     path=str(meta.get("path", "")), kind=str(meta.get("kind", "document")), snippet=snippet,
                     score=hit.score, language=str(meta.get("language", "")), dates=dates,
                     status=status_of(meta, now))


def status_phrase(ref: SourceRef, language: str) -> str:
    """'closed on 31 October 2026', 'open until 10 February 2027', 'on 10 December 2026, 14:00'... (the dates as
    the member's language writes them)."""
    t = texts(language)
    if ref.kind == "funding_call" and "deadline" in ref.dates:
        return t["closed" if ref.status == "closed" else "cancelled_call" if ref.status == "cancelled"
                 else "open_until"].format(
            date=written_date(ref.dates["deadline"], language))
    if ref.kind == "event" and "start" in ref.dates:
        return t["past_event" if ref.status == "past" else "cancelled_event" if ref.status == "cancelled"
                 else "upcoming_event"].format(
            date=written_date(ref.dates["start"], language))
    return t["status_cancelled"] if ref.status == "cancelled" else ""  # cancelled, no date given


def abstain(question: Question, contact: str) -> Answer:
    """The honest "I don't know", with whom to ask."""
    t = texts(question.language)
    if question.listing and question.scope.kind:
        what = t[f"what_{question.scope.kind}"]
        return Answer(t["nothing_listed"].format(what=what, contact=contact), question.language, [], abstained=True)
    return Answer(t["nothing"].format(contact=contact), question.language, [], abstained=True)


class Answerer(ABC):
    """Writes the reply to a question from the hits retrieval found (already judged relevant)."""

    @abstractmethod
    def answer(self, question: Question, hits: Sequence[Hit], outside: Hit | None = None) -> Answer:
        """`outside`: an event or call the question names that is past or closed."""


class ExtractiveAnswerer(Answerer):
    """Quotes the sentences of the best passages that best match the question; never writes new facts."""

    def __init__(self, embedder: Embedder, max_sentences: int = 4, max_listed: int = 6,
                 ranking: Ranking | None = None, topics: TopicMatcher | None = None) -> None:
        self._embedder = embedder
        self._ranking = ranking or Ranking()
        self._max_sentences = max_sentences
        self._max_listed = max_listed
        self._topics = topics or TopicMatcher(embedder)

    def answer(self, question: Question, hits: Sequence[Hit], outside: Hit | None = None) -> Answer:
        if question.listing:
            return self._listing(question, hits, outside)
        return self._passages(question, hits, outside)

    def _listing(self, question: Question, hits: Sequence[Hit], outside: Hit | None) -> Answer:
        t = texts(question.language)
        records = records_of(hits)
        # "The next wearables event" is one that takes place; when only cancelled ones are about it, the member
        # hears they are cancelled rather than "nothing matches".
        live, live_of_kind = self._about(question, [hit for hit in records if not is_cancelled(hit.metadata)])
        if live and outside is None and (named := self._cancelled_one_named(question, records)) is not None:
            # "Is the AI diagnostics grant still open?" when it was cancelled: said first, as a closed one is,
            # rather than a list of the other AI calls without it
            outside, records = named, [hit for hit in records if not _same_item(hit, named)]
        dead, dead_of_kind = self._about(question, [hit for hit in records if is_cancelled(hit.metadata)])
        # ... and so do they when the only items of the kind asked for are cancelled ("Any workshops in June?")
        only_cancelled = bool(dead) and (not live or (dead_of_kind and not live_of_kind))
        candidates = dead if only_cancelled else live
        field_name = "start_ts" if question.scope.kind == "event" else "deadline_ts"
        ordered = sorted(candidates, key=lambda h: int(h.metadata.get(field_name, 0)))[: self._max_listed]
        if question.scope.kind == "event":
            heading = t["events_past" if question.scope.past_only else
                        "events_upcoming" if question.scope.upcoming_only else "events"]
        else:
            heading = t["calls_open" if question.scope.upcoming_only else "calls"]
        heading += _window_said(question)
        # "None then; the next one: 2 March" rather than a bare "nothing" when one comes after the window (and
        # not "the office hour took place on 2 February" before it: the member asked about the next ones).
        following = None if ordered else self._next_named(question, field_name)
        # The item the question named (outside the window) answers it: said as before ("EIC Accelerator: open
        # until 4 March"), and when it is a past occurrence of what comes next, the next one is said instead.
        if outside is not None and following is not None and _same_item(outside, following):
            if status_of(outside.metadata, question.now) in ("upcoming", "open"):
                following = None
            else:
                outside = None
        lines, sources = [], []
        if outside is not None:
            ref = source_ref(1, outside, question.now, _first_line(outside.text))
            sources.append(ref)
            lines.append(f"{ref.title}: {status_phrase(ref, question.language)} [1]")
        colon = t["heading_colon"]
        if not ordered:  # only the event or call the question named, outside the window, or nothing at all
            lines.append(f"{heading}{colon} {t['none_match']}")
            if following is not None:
                ref = source_ref(len(sources) + 1, following, question.now, _first_line(following.text))
                sources.append(ref)
                lines.append(f"{t['next_after']}{colon} {self._item_line(ref, following, question.language)}")
            # Nothing in the window answers: "none then; the next one is ..." answers "Is there an AI workshop
            # next week?" (with its source); the staff report still lists it among the gaps (`Reply.unanswered`).
            return Answer("\n".join(lines), question.language, sources, abstained=not sources,
                          note="next_after" if following is not None else "nothing_listed")
        # "Funding calls still open: none; these were cancelled:" rather than a cancelled call listed as open.
        lines.append(f"{heading}{colon} {t['only_cancelled']}" if only_cancelled else f"{heading}{colon}")
        for hit in ordered:
            ref = source_ref(len(sources) + 1, hit, question.now, _first_line(hit.text))
            sources.append(ref)
            lines.append(f"• {self._item_line(ref, hit, question.language)}")
        note = language_note(sources, question.language)  # "Atelier IA en santé" to an English question
        return Answer("\n".join(lines + ([note] if note else [])), question.language, sources)

    def _cancelled_one_named(self, question: Question, records: list[Hit]) -> Hit | None:
        """The cancelled item the question names: the only one (by title) about the question more than any
        other item of the window, cancelled or not."""
        if not any(is_cancelled(hit.metadata) for hit in records):
            return None
        about = items_about(self._topics, self._ranking, question.text, records)
        if len(about) == len(records) or len({str(hit.metadata.get("title", "")) for hit in about}) != 1:
            return None
        return about[0] if is_cancelled(about[0].metadata) else None

    def _next_named(self, question: Question, field_name: str) -> Hit | None:
        """The first item after the window that carries every topic word of the question, of the kind it names
        ("the office hour", "a webinar on AI"): not merely the next item, nor the next one about part of it."""
        terms = question_terms(question.text, hyphen_parts=True)
        later = [hit for hit in records_of(question.later) if not is_cancelled(hit.metadata)]
        if not terms or not later:
            return None
        asked = kinds_named(question.text)
        found = self._topics.terms_found(terms, [(str(h.metadata.get("title", "")), without_labels(h.text))
                                                 for h in later], word_similarity=self._ranking.topic_word_similarity)
        named = [hit for hit, flags in zip(later, found) if all(flags) and (not asked or _of_kind(hit, asked))]
        return min(named, key=lambda h: int(h.metadata.get(field_name, 0)), default=None)

    @staticmethod
    def _item_line(ref: SourceRef, hit: Hit, language: str) -> str:
        """"Title — on 4 May 2027, 14:00, place [n]": an item of a listing."""
        details = [status_phrase(ref, language)]
        if hit.metadata.get("location"):
            details.append(_town(str(hit.metadata["location"])))
        if hit.metadata.get("funder"):
            details.append(str(hit.metadata["funder"]))
        return f"{ref.title} — {', '.join(d for d in details if d)} [{ref.n}]"

    def _about(self, question: Question, candidates: list[Hit]) -> tuple[list[Hit], bool]:
        """"The next AI workshop": the items about what the question names, in either language (`items_about`);
        of those, the ones of the kind asked for when some are ("Any workshops in June?": not the drinks); and
        whether they are of that kind (True when the question asks for no kind)."""
        about = items_about(self._topics, self._ranking, question.text, candidates)
        asked = kinds_named(question.text)
        if not asked:
            return about, True
        of_kind = [hit for hit in about if _of_kind(hit, asked)]
        return (of_kind, True) if of_kind else (about, False)

    def _passages(self, question: Question, hits: Sequence[Hit], outside: Hit | None) -> Answer:
        """Quote the section (heading block) of the best passages that best answers, in its own order."""
        pool = ([outside] if outside is not None else []) + list(hits[: self._ranking.quote_passages])
        if hits and _about_the_question(hits[0]):
            # Retrieval's first passage is titled with every topic word of the question, or carries the rare
            # name it asks about ("Innov'Santé"), in any language (where the sentences' own words cannot be
            # compared): quote from such passages, not from a neighbour that merely shares a word in the
            # question's language ("apply", "fee").
            pool = [hit for hit in pool if hit is outside or _about_the_question(hit)]
        units: list[tuple[int, str, int, str]] = []  # (hit index, heading, position, sentence)
        for index, hit in enumerate(pool):
            for position, (heading, sentence) in enumerate(_sentences(hit.text, str(hit.metadata.get("heading", "")))):
                units.append((index, heading, position, sentence))
        if not units:
            return abstain(question, "")
        scores = self._sentence_scores(question, pool, units)
        chosen = self._choose(question, pool, units, scores)
        answer = self._quote(question, pool, units, chosen)
        self._name_close_sources(answer, question, ([outside] if outside is not None else []) + list(hits))
        return answer

    def _name_close_sources(self, answer: Answer, question: Question, hits: Sequence[Hit]) -> None:
        """Add the sources that come close to the best one ("Also on this: [2] ..."), best first, up to
        `Ranking.cite_sources` in all: when retrieval cannot tell them apart, the member sees each. The source
        retrieval ranks first is always among them (the quote may come from another: both are shown)."""
        ranking = self._ranking
        if not hits or len(answer.sources) >= ranking.cite_sources:
            return
        best = max(h.score for h in hits)  # retrieval's own measure: meaning, keywords and titles fused
        best_dense = max(h.dense for h in hits)
        cited = {(ref.url, ref.path) for ref in answer.sources}
        added: list[SourceRef] = []
        for rank, hit in enumerate(hits):
            if len(answer.sources) + len(added) >= ranking.cite_sources:
                break
            key = (str(hit.metadata.get("url", "")), str(hit.metadata.get("path", "")))
            far = hit.score < ranking.cite_closeness * best or hit.dense < ranking.cite_meaning_closeness * best_dense
            if key in cited or (rank > 0 and far):
                continue
            cited.add(key)
            added.append(source_ref(len(answer.sources) + len(added) + 1, hit, question.now, hit.text[:1000]))
        if added:
            t = texts(question.language)
            answer.text += "\n" + t["also_relevant"] + " " + "; ".join(_named(ref, question.language) for ref in added)
            answer.sources.extend(added)

    def _sentence_scores(self, question: Question, pool: list[Hit], units: list[tuple[int, str, int, str]],
                         ) -> list[float]:
        """How well each sentence answers: its meaning, the question's words it carries, its passage's rank."""
        ranking = self._ranking
        query = self._embedder.encode_queries([question.text])[0]
        vectors = self._embedder.encode_passages([f"{h}: {s}" if h else s for _, h, _, s in units])
        asked = set(keywords(question.text))

        def overlap(text: str) -> float:
            return len(asked & set(keywords(text))) / len(asked) if asked else 0.0

        return [
            float(np.dot(vector, query))
            + ranking.quote_overlap_weight * overlap(f"{pool[index].metadata.get('title', '')} {heading} {sentence}")
            - ranking.quote_rank_penalty * index
            + (ranking.quote_lead_bonus if position < ranking.quote_lead_sentences and _opens_its_page(pool[index])
               else 0.0)
            for (index, heading, position, sentence), vector in zip(units, vectors)
        ]

    def _choose(self, question: Question, pool: list[Hit], units: list[tuple[int, str, int, str]],
                scores: list[float]) -> list[int]:
        """The sentences to quote: the best section (a window of it when long), completed when it is one line.
        Of the best section's page, a section whose heading answers what the question asks scores more ("Who
        can apply?": "Eligibility", not "How to apply"; `knowledge.time_scope.intents`)."""
        ranking = self._ranking
        asked = set(keywords(question.text))
        asks = intents(question.text)
        sections: dict[tuple[int, str], list[int]] = {}
        for i, (index, heading, _, _) in enumerate(units):
            sections.setdefault((index, heading), []).append(i)

        # "When is the Health Innovation Summit?": the event or call found first, when its title carries what the
        # question names, has the date; a guide's sentence nearer in meaning ("innovative health projects") does
        # not answer when ("When do registrations open for the missions?" is not the summit's date)
        # ... of the kind it names, if any ("le Meetup sur la santé mentale": the meetup, not the round table)
        kinds = kinds_named(question.text)
        dated_first = next((i for i, hit in enumerate(pool) if hit.is_record and _about_the_question(hit)
                            and (not kinds or kinds & kinds_named(str(hit.metadata.get("title", ""))))),
                           None) if "when" in asks else None

        def section_score(key: tuple[int, str]) -> float:
            heading_words = set(keywords(key[1]))
            share = len(heading_words & asked) / len(heading_words) if heading_words else 0.0
            return (max(scores[i] for i in sections[key]) + ranking.quote_heading_bonus * share
                    + (ranking.quote_heading_bonus if key[0] == dated_first else 0.0))

        best = max(sections, key=section_score)
        # ... and of its page, the section whose heading answers what the question asks scores a heading's bonus
        # more (within one page only: another page's "Costs" is not about the call asked for)
        page = pool[best[0]].source_key
        best = max((key for key in sections if pool[key[0]].source_key == page),
                   key=lambda key: section_score(key) + (ranking.quote_heading_bonus if asks & intents(key[1]) else 0))
        section = sections[best]
        if len(section) > self._max_sentences + 1:  # a long section: the window around its best sentence
            best_at = max(range(len(section)), key=lambda j: scores[section[j]])
            first = max(0, min(best_at - 1, len(section) - self._max_sentences - 1))
            section = section[first : first + self._max_sentences + 1]
        chosen = list(section)
        if len(chosen) < 2:  # a one-line section: add the next best sentences from elsewhere
            others = sorted((i for i in range(len(units)) if i not in chosen), key=lambda i: scores[i], reverse=True)
            chosen += [i for i in others[: self._max_sentences - len(chosen)]
                       if scores[i] >= scores[chosen[0]] - ranking.quote_margin]
        chosen.sort(key=lambda i: (units[i][0], units[i][2]))
        return chosen

    @staticmethod
    def _quote(question: Question, pool: list[Hit], units: list[tuple[int, str, int, str]],
               chosen: list[int]) -> Answer:
        """The answer text: the frame, each quoted call's deadline or event's date (closed and past ones said so),
        the quoted sentences with their [n]."""
        t = texts(question.language)
        when = asks_date(question.text)
        # "How much is it?": the sentences of an event or call that give a price, when some do
        priced = {units[i][0] for i in chosen if says_amount(units[i][3])} if asks_price(question.text) else set()
        numbers: dict[int, int] = {}
        sources: list[SourceRef] = []
        lines: list[str] = []
        places: dict[int, str] = {}  # an event's place, said with its date
        for i in chosen:
            index, _, _, sentence = units[i]
            if index not in numbers:
                numbers[index] = len(sources) + 1
                hit = pool[index]
                sources.append(source_ref(numbers[index], hit, question.now, hit.text[:1000]))
                if hit.metadata.get("kind") == "event" and hit.metadata.get("location"):
                    places[numbers[index]] = str(hit.metadata["location"])
            ref = sources[numbers[index] - 1]  # its status line below gives a call's deadline, an event's start
            given = {"topics"}  # what it is about: for search and matching, not worth a line of the answer
            dated = bool(status_phrase(ref, question.language))
            if dated:
                given |= {"deadline"} if ref.kind == "funding_call" else {"start", "status"} | (
                    {"location"} if ref.n in places else set())
            fact = _fact_line(sentence, question.language, given=given)
            if fact is None and dated and ref.status != "cancelled" and (
                    (when and not (says_when(sentence) or _LINK.search(sentence)))
                    or (index in priced and not (says_amount(sentence) or _LINK.search(sentence)))):
                # "When is the Demo Day?": its date line answers, with the sentences that give a day or a time;
                # "How much is it?": the ones that give a price. What it is about is on its page (a cancelled
                # one's sentences all stay: why, what next).
                continue
            if fact != "":
                lines.append(f"{fact or sentence} [{numbers[index]}]")
        body = [t["frame"]]
        for ref in sources:  # a call's deadline or an event's date and place first, in the member's words
            status = status_phrase(ref, question.language)
            if status:
                place = f", {places[ref.n]}" if ref.n in places else ""
                body.append(f"{ref.title}: {status}{place} [{ref.n}]")
        body.extend(lines)
        note = language_note(sources, question.language)
        return Answer("\n".join(body + ([note] if note else [])), question.language, sources)


def language_note(sources: Sequence[SourceRef], language: str) -> str | None:
    """What the member is told of sources in another language than the question's, after the answer: "(La
    source est en anglais.)", or of a listing, "(Some of these sources are in French.)"; None when all are in
    the question's language (or of no known language)."""
    t = texts(language)
    foreign = [ref.language for ref in sources if ref.language and ref.language != language]
    if not foreign:
        return None
    name = t.get(f"language_{foreign[0]}") if len(set(foreign)) == 1 else None
    if len(sources) == 1:
        return t["other_language_named"].format(language=name) if name else t["other_language"]
    if len(foreign) == len(sources):  # all in another language: "(Die Quellen sind auf Englisch.)"
        return t["sources_language_named"].format(language=name) if name else t["sources_other_languages"]
    return t["some_sources_language_named"].format(language=name) if name else t["some_sources_other_language"]


def items_about(topics: TopicMatcher, ranking: Ranking, question: str, candidates: list[Hit]) -> list[Hit]:
    """The items (events, calls, passages) about what the question names, in either language; [] when none is.

    Each topic word of the question (its acronyms included: "AI", "IA", "KI") matches an item by the same word,
    or by a word of the same meaning in another language ("AI" ~ "IA", "healthcare" ~ "santé":
    `knowledge.topic_match`, `Ranking.topic_word_similarity`); the items matching the most of them are kept,
    each word weighing by how few items carry it ("the next women in health tech event" in a health-tech
    calendar: "women" decides, "health" and "tech" are everywhere). When no item carries any of them, none
    is about what was asked ("the next blockchain workshop" is not the AI workshop, however close their
    cosines: with the default model an unrelated event can stand out from the others as much as a
    synonym's). A question without topic words keeps every item.
    """
    terms = question_terms(question, hyphen_parts=True)
    if not terms or not candidates:
        return candidates
    found = topics.terms_found(terms, [(str(h.metadata.get("title", "")), without_labels(h.text)) for h in candidates],
                               word_similarity=ranking.topic_word_similarity)
    carried = [sum(flags[i] for flags in found) for i in range(len(terms))]
    weight = [math.log((len(candidates) + 1) / (n + 0.5)) for n in carried]  # rarer among the items, weightier
    scores = [round(sum(w for w, hit in zip(weight, flags) if hit), 9) for flags in found]
    return [hit for hit, score in zip(candidates, scores) if score > 0 and score == max(scores)]


def records_of(hits: Sequence[Hit], kind: str | None = None) -> list[Hit]:
    """The first hit of each record (an event occurrence, a call, a document chunk), of `kind` when given."""
    records: dict[str, Hit] = {}
    for hit in hits:
        if kind is None or hit.metadata.get("kind") == kind:
            records.setdefault(hit.record_key, hit)
    return list(records.values())


def _window_said(question: Question) -> str:
    """A listing's window as the member would say it, for its heading: " (from 1 March 2027 to 31 May 2027)",
    " (before 1 December 2026)", " (from 1 March 2027)"; calls by their deadline: " (closing before 1 March
    2027)", " (closing between 1 March 2027 and 31 May 2027)", " (closing from 1 April 2027)"; "" for none."""
    scope, language = question.scope, question.language
    t = texts(language)
    call = scope.kind == "funding_call"
    if scope.end is not None and (call and scope.start is None):
        said = t["before"].format(date=written_day(scope.end.date(), language))
    elif scope.start is not None and scope.end is not None:
        first, last = scope.start.date(), (scope.end - timedelta(microseconds=1)).date()
        said = (t["closing_on" if call else "on_day"].format(date=written_day(first, language)) if first == last else
                t["closing_between" if call else "between"].format(start=written_day(first, language),
                                                                   end=written_day(last, language)))
    elif scope.end is not None:
        said = t["events_before"].format(date=written_day(scope.end.date(), language))
    elif scope.start is not None and scope.start > question.now:  # "from March" ("from this month": ahead)
        said = t["closing_from" if call else "from_day"].format(date=written_day(scope.start.date(), language))
    else:
        return ""
    return f" ({said})"


_POSTCODE = re.compile(r"^(?:[A-Z]{1,2}-)?\d{4,5}\s+")
_PARENTHESES = re.compile(r"\s*\([^)]*\)")
_POSTCODE_AFTER = re.compile(r"\s+(?:[A-Z]{1,2}-)?\d{4,5}$")  # "Berlin 10117"
# Countries named like their capital: "Hôtel Le Royal, Luxembourg" is in Luxembourg (the town), not a venue
_CITY_STATES = frozenset({"luxembourg", "luxemburg", "monaco", "singapore", "singapour", "singapur", "san marino",
                          "saint-marin", "djibouti", "kuwait", "koweit"})
_NOT_A_TOWN = re.compile(r"^(?:(?:[A-Z]{1,2}-)?\d{4,5}(?:-\d{4})?|[A-Z]{2}(?:\s+\d{5}(?:-\d{4})?)?)$")


@lru_cache(maxsize=1)
def _countries() -> frozenset[str]:
    """Country names and codes in every supported language (Unicode CLDR, through Babel), folded: "france",
    "united states", "deutschland", "usa"."""
    from babel import Locale

    names = {"usa", "uk"}
    for language in LANGUAGES:
        territories = {str(code): str(name) for code, name in Locale(language).territories.items()}
        names.update(fold(name) for code, name in territories.items() if code.isalpha())
        names.update(code.lower() for code in territories if code.isalpha())
    return frozenset(names)


def _town(location: str) -> str:
    """Where an event is, for a line of a list: its town ("Salle des Lumières, 18 boulevard des Normes, 75013
    Paris" -> "Paris"; "Centre de congrès, Lyon, France" -> "Lyon"; "Boston, MA 02110" -> "Boston"; "Online
    (link sent after registration)" -> "Online"); the full address is in its answer and on its page. An address
    whose last useful part is a street ("12 rue de la Paix, 75002") is said whole."""
    plain = _PARENTHESES.sub("", location).strip()
    parts = [part.strip() for part in plain.split(",") if part.strip()]
    while len(parts) > 1 and (_NOT_A_TOWN.match(parts[-1]) or (
            fold(parts[-1]) in _countries() and fold(parts[-1]) not in _CITY_STATES)):
        parts.pop()
    town = _POSTCODE_AFTER.sub("", _POSTCODE.sub("", parts[-1])) if parts else ""
    if not town or town[0].isdigit():
        return plain or location
    return town


def _of_kind(hit: Hit, asked: Collection[str]) -> bool:
    """Whether an item is of a kind the question names ("workshop"), by its title or topics."""
    return bool(set(asked) & kinds_named(f"{hit.metadata.get('title', '')} {hit.metadata.get('topics', '')}"))


def _same_item(one: Hit, other: Hit) -> bool:
    """Two occurrences of one event (one call): the same title in the same source (not the same page: a
    calendar may give every event its agenda's address)."""
    return (str(one.metadata.get("title", "")) == str(other.metadata.get("title", ""))
            and one.metadata.get("source_id") == other.metadata.get("source_id"))


def _opens_its_page(hit: Hit) -> bool:
    """Whether a chunk is the first of its document (ids are `source_id:index`; not a calendar's or a table's
    record)."""
    return not hit.is_record and hit.id.rsplit(":", 1)[-1] == "0"


def _about_the_question(hit: Hit) -> bool:
    return hit.title_match >= 1.0 or hit.named


_DATE_FACTS = frozenset({"opens", "deadline", "start", "end"})
_LINK = re.compile(r"https?://")
_FACT_LINE = re.compile(r"^([^:]{2,30}):\s+(.+)$")


@lru_cache(maxsize=1)
def _fact_names() -> dict[str, str]:
    """Every language's facts label ("Date limite", "Deadline", "Frist"), folded, to its field name."""
    return {fold(text): key.removeprefix("fact_") for language in LANGUAGES
            for key, text in messages(language).items() if key.startswith("fact_")}


def without_labels(text: str) -> str:
    """A record's text without its facts labels ("Eligibility: SMEs" -> "SMEs"): every call carries the same
    labels, and "feasibility" is near "Eligibility" in word vectors."""
    names = _fact_names()
    return "\n".join(match.group(2) if (match := _FACT_LINE.match(line)) and fold(match.group(1)) in names else line
                     for line in text.splitlines())


def _fact_line(sentence: str, language: str, *, given: Collection[str] = ()) -> str | None:
    """A call's or event's facts line ("Début: 2026-12-10 14:00 (UTC+01:00)", written at ingestion in the
    record's language) in the member's words ("Starts: 10 December 2026, 14:00"); "" to leave out the facts
    the status line already `given` (a call's deadline, an event's start and place); None when the sentence
    is not a facts line.

    >>> _fact_line("Début: 2026-12-10 14:00 (UTC+01:00)", "en")
    'Starts: 10 December 2026, 14:00'
    >>> _fact_line("Lieu: Lyon", "de", given={"start"}), _fact_line("Date limite: 2027-01-29", "en", given={"deadline"})
    ('Ort: Lyon', '')
    >>> _fact_line("Date limite: 2026-12-01", "en", given={"start"})  # an event's registration deadline stays
    'Deadline: 1 December 2026'
    """
    found = _FACT_LINE.match(sentence.strip())
    name = _fact_names().get(fold(found.group(1).strip())) if found else None
    if found is None or name is None:
        return None
    if name in given:
        return ""
    value = found.group(2).strip()
    return f"{messages(language)['fact_' + name]}: {written_date(value, language) if name in _DATE_FACTS else value}"


def _named(ref: SourceRef, language: str) -> str:
    """A source named after the quote: its title, a call's deadline or an event's date, its number."""
    status = status_phrase(ref, language)
    return f"{ref.title} ({status}) [{ref.n}]" if status else f"{ref.title} [{ref.n}]"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else ""


def _sentences(text: str, heading: str = "") -> list[tuple[str, str]]:
    """(heading, sentence) pairs: the heading a sentence sits under helps judge what it answers.

    A passage that opens in the middle of a sentence (the tail of a sentence too long for one chunk, "a large
    scale. The processing...") loses that fragment: quoted alone it reads as nonsense.

    >>> [s for _, s in _sentences("a large scale. Health data is sensitive.")]
    ['Health data is sensitive.']
    >>> [s for _, s in _sentences("eIDAS applies. Health data is sensitive.")]
    ['eIDAS applies.', 'Health data is sensitive.']
    """
    out: list[tuple[str, str]] = []
    current = heading.split(" > ")[-1] if heading else ""
    opening = re.match(r"\w+", text.lstrip())
    if opening and opening.group().isalpha() and opening.group().islower():  # not "iOS", "eIDAS"
        pieces = split_sentences(text.lstrip().split("\n", 1)[0])
        if len(pieces) > 1 or "\n" in text.strip():  # keep a passage that is nothing but the fragment
            text = text.lstrip()[len(pieces[0]):]
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            current = re.sub(r"^#+\s*", "", line)
            continue
        line = re.sub(r"^(?:[-•*]|\d+[.)])\s+", "", line).strip()
        # Facts lines ("Deadline: ...") and list items stay whole; prose is cut into sentences.
        pieces = [line] if re.match(r"^[\w\s'’éÉ]{2,20}:\s", line) else split_sentences(line)
        out.extend((current, piece) for piece in pieces if len(piece) > 3)
    return out
