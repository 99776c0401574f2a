"""Decides how to answer a member: language, follow-ups, time, audience, abstention.

Imports neither Slack, nor Teams, nor Chroma: adapters turn their events into an `Incoming` and render
the `Reply`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache

from knowledge.answering import Answer, Answerer, Question, SourceRef, abstain, items_about, records_of, texts
from knowledge.chat_answering import StreamingAnswerer, TextSink
from knowledge.filters import Filters
from knowledge.language import detect_language
from knowledge.locales import catalogs
from knowledge.ranking import Hit, Ranking
from knowledge.retrieval import Retriever
from knowledge.store import StoreError, StoreUnavailable
from knowledge.text import fold, keywords
from knowledge.time_scope import (
    TimeScope,
    asks_date,
    item_noun,
    kinds_named,
    lists_a_kind,
    names_a_call,
    parse_time_scope,
    says_next_or_past,
)
from knowledge.topic_match import TopicMatcher, question_names, question_terms

_DATED_KINDS = frozenset({"event", "funding_call"})

logger = logging.getLogger(__name__)

_FOLLOW_UP_MAX_KEYWORDS = 4  # "and the deadline?", "et c'est où ?": short enough to be a follow-up ...


@lru_cache(maxsize=1)
def _follow_up_words() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """How a question opens like a follow-up, and the words that point back, in every language (locales)."""
    words = {key: [w for module in catalogs().values() for w in getattr(module, "FOLLOW_UP_WORDS", {}).get(key, [])]
             for key in ("opens", "refers")}
    return (re.compile(r"^(?:" + "|".join(sorted(words["opens"], key=len, reverse=True)) + r")\b"),
            re.compile(r"\b(?:" + "|".join(words["refers"]) + r")\b"))


@lru_cache(maxsize=1)
def _small_talk_phrases() -> dict[str, tuple[str, str]]:
    """Every catalog's greetings and thanks, folded: phrase -> (kind, language); the first language wins a phrase
    two share ("super": French, as listed first of those that have it)."""
    phrases: dict[str, tuple[str, str]] = {}
    for language, module in catalogs().items():
        for kind, words in getattr(module, "SMALL_TALK", {}).items():
            for phrase in words:
                phrases.setdefault(phrase, (kind, language))
    return phrases


def small_talk(text: str) -> tuple[str, str] | None:
    """(kind, language) when a whole message is only a greeting or a thanks ("Hello!", "Merci beaucoup 🙏",
    "Danke schön"); None for anything else, "Hello, when is the summit?" included.

    >>> small_talk("Merci beaucoup !"), small_talk("Hello, when is the summit?")
    (('thanks', 'fr'), None)
    """
    plain = " ".join(re.findall(r"[a-z]+", re.sub(r"[’']", " ", fold(text))))
    return _small_talk_phrases().get(plain) if plain else None


def is_follow_up(text: str) -> bool:
    """Whether a short question in a thread is read with the one before it: it opens like a follow-up ("and
    the deadline?", "Und die Frist?"), says nothing of its own (one keyword or no topic word: "Where?",
    "C'est payant ?") or points back at it with at most two topic words ("Is it free for members?"). "Which
    events are about regulation?" or "How do I apply for the accreditation programme?" stand alone, however
    short: read with the question before, they were answered about that one.

    >>> is_follow_up("and the deadline?"), is_follow_up("Is it free for members?"), is_follow_up(
    ...     "Which events are about regulation?")
    (True, True, False)
    """
    found = keywords(text)
    if len(found) > _FOLLOW_UP_MAX_KEYWORDS:
        return False
    plain = re.sub(r"[’']", " ", fold(text)).strip()
    opens, refers = _follow_up_words()
    terms = question_terms(text, hyphen_parts=True)
    acronyms = [term for term in terms if term.isupper()]  # "AI": too short to be a keyword, still a topic
    # "Which events are coming up?" names no topic and still asks a question of its own: read with the one before
    # ("How do I apply for the label?") it found no event about the label
    says_nothing = (len(found) + len(acronyms) <= 1 or not terms) and not lists_a_kind(text)
    return bool(opens.search(plain) or says_nothing or (refers.search(plain) and len(terms) <= 2))


@dataclass(frozen=True)
class Turn:
    """One earlier message of the conversation."""

    role: str  # "user" or "assistant"
    text: str


@dataclass(frozen=True)
class Incoming:
    """A member's question as any front end hands it to the core."""

    text: str
    role: str = "member"  # public | member | staff: the highest audience this asker may see
    history: Sequence[Turn] = ()
    now: datetime | None = None  # overrides the clock (tests, evaluation)
    exclude: tuple[str, ...] = ()  # sources (URLs or paths) not to answer from (evaluation: gold removed)
    # Where a front end shows the reply while a chat model writes it (`StreamingAnswerer`): called with each new
    # piece of checked text. The Reply still carries the whole answer; when it is not what was shown (the model's
    # reply failed later on), the front end replaces what it showed. The extractive answerer never calls it.
    on_text: TextSink | None = field(default=None, compare=False, repr=False)


@dataclass
class Reply:
    """What the core answers; `as_dict()` is the `ask --json` contract."""

    question: str
    language: str
    answer: str
    abstained: bool
    sources: list[SourceRef]
    latency_ms: float = 0.0
    note: str | None = None
    retrieved: list[dict[str, str]] = field(default_factory=list)  # ranking before answering (evaluation)
    confidence: float = 0.0

    @property
    def unanswered(self) -> bool:
        """What the staff report counts as a gap: declined, or "none then; the next one is ..." (the window asked
        about held nothing: a demand the calendar did not meet)."""
        return self.abstained or self.note == "next_after"

    def as_dict(self) -> dict[str, object]:
        return {"question": self.question, "language": self.language, "answer": self.answer,
                "abstained": self.abstained, "sources": [s.as_dict() for s in self.sources],
                "latency_ms": round(self.latency_ms, 1), "note": self.note, "confidence": round(self.confidence, 4),
                "retrieved": self.retrieved}


class Concierge:
    """The assistant's brain: `answer(Incoming) -> Reply`.

    It never raises for a knowledge-base outage: the member gets a short "try again in a few minutes" reply
    (`note="unavailable"`), and answers resume by themselves once the store is back.

    Usage: `concierge.answer(Incoming("Quels appels à projets sont ouverts ?"))` -> a Reply with its sources.
    """

    def __init__(
        self,
        retriever: Retriever,
        answerer: Answerer,
        *,
        contact: str,
        contact_fr: str | None = None,
        contacts: Mapping[str, str] | None = None,
        ranking: Ranking | None = None,
        clock: Callable[[], datetime],
        default_language: str = "en",
        top_k: int = 10,
        names: TopicMatcher | None = None,
    ) -> None:
        self._retriever = retriever
        self._answerer = answerer
        # Checks that what a question names ("the Eurostars call") is in the passages found (`missing_names`).
        self._names = names
        # Whom to send members to, by language (`KnowledgeSettings.contacts`); `contact` for any other language.
        self._contacts = {"en": contact, "fr": contact_fr or contact, **(contacts or {})}
        # How sure retrieval must be to answer (`Ranking.confidence`, `min_confidence`): measured, see README.
        self._ranking = ranking or Ranking()
        self._clock = clock
        self._default_language = default_language
        self._top_k = top_k

    def answer(self, incoming: Incoming) -> Reply:
        started = time.perf_counter()
        now = incoming.now or self._clock()
        question_text = incoming.text.strip()
        if (talk := small_talk(question_text)) is not None:  # "Hello!", "Merci !": answered in kind, not searched
            kind, said_in = talk
            return Reply(question=question_text, language=said_in, answer=texts(said_in)[f"small_talk_{kind}"],
                         abstained=False, sources=[], latency_ms=(time.perf_counter() - started) * 1000,
                         note="small_talk")
        language = detect_language(question_text, default=self._default_language)
        query = self._standalone_query(question_text, incoming.history)
        scope = parse_time_scope(query, now)
        filters = Filters(role=incoming.role, scope=scope, now=now, exclude=tuple(incoming.exclude))
        listing = bool(scope.kind and filters.has_time_window)
        try:
            hits = self._retriever.search(query, filters, k=self._k(listing), language=language)
            found_kind = str(hits[0].metadata.get("kind", "")) if hits else ""
            if not scope.kind and not scope.asks_when and asks_date(query):
                # "Quand ferme i-Nov ?": the call or event it names has the date, not the guide that mentions it
                # (when the question says nothing else, or its title carries it: "Quand faut-il prendre rendez-vous
                # pour préparer l'EIC Accelerator ?" asks the guide, not the call's deadline)
                bare = not question_terms(query)
                dated = next((h for h in hits[:3] if h.is_record and h.named
                              and (bare or h.title_match >= 1.0)), None)
                found_kind = str(dated.metadata["kind"]) if dated is not None else ""
                scope = replace(scope, asks_when=dated is not None)
            if not scope.kind and scope.asks_when and found_kind in _DATED_KINDS:
                # "Next cybersecurity thing?": no word says event or call, the time words and what was found do.
                scope = replace(scope, kind=found_kind)
                filters = replace(filters, scope=scope)
                listing = filters.has_time_window
                hits = self._retriever.search(query, filters, k=self._k(listing), language=language)
            if listing and self._one_item_named(query, scope, hits) and not self._ranking.unsure(hits, language):
                listing = False  # "Is the summit in June free for members?": that summit, not June's events
            outside = self._retriever.named_outside_window(query, filters, hits) if listing else None
        except StoreError as exc:
            # Members' words stay out of the log above DEBUG (README: members' data): the language says enough.
            if isinstance(exc, StoreUnavailable):
                logger.error("knowledge base unavailable: %s language=%s", exc, language)
            else:  # not an outage we expect: keep the traceback for staff
                logger.exception("knowledge base failed language=%s", language)
            logger.debug("question=%r", question_text[:200])
            return Reply(question=question_text, language=language, answer=texts(language)["unavailable"],
                         abstained=True, sources=[], latency_ms=(time.perf_counter() - started) * 1000,
                         note="unavailable")
        sure = self._ranking.confidence(hits + ([outside] if outside else []))
        question = Question(text=query, language=language, now=now, scope=scope, listing=listing)
        contact = self._contacts.get(language) or self._contacts["en"]
        later: list[Hit] = []
        result: Answer | None = None
        if listing and hits:
            result = self._write(question, hits, outside, incoming.on_text)
            if result.note == "nothing_listed" and (later := self._after_window(query, filters, language)):
                # None in the window is about the question: the next one after it that is, if one is.
                result = self._write(replace(question, later=later), hits, outside, incoming.on_text)
        elif listing and (later := self._after_window(query, filters, language)):
            # Nothing at all in the window: the next one that carries what the question asks, if one does (the
            # named item outside the window only when retrieval is sure of it, as below); else as below.
            sure_outside = outside if outside is not None and not self._ranking.unsure([outside], language) else None
            named = self._write(replace(question, later=later), hits, sure_outside, incoming.on_text)
            result = named if named.note == "next_after" else None
        if result is None:
            result = self._answer_or_abstain(question, question_text, hits, outside, incoming.on_text)
        if result.abstained and not result.sources:  # an answerer that found nothing: say whom to ask, in kind
            note = result.note
            result = abstain(question, contact)
            result.note = note
        return Reply(
            question=question_text, language=language, answer=result.text, abstained=result.abstained,
            sources=result.sources, latency_ms=(time.perf_counter() - started) * 1000, note=result.note,
            retrieved=[{"url": str(h.metadata.get("url", "")), "path": str(h.metadata.get("path", ""))}
                       for h in hits + (later if result.note == "next_after" else [])],  # what was answered from
            confidence=sure,
        )

    def _answer_or_abstain(self, question: Question, question_text: str, hits: list[Hit], outside: Hit | None,
                           on_text: TextSink | None) -> Answer:
        """The answer from what was found, or "I don't know" when it is too weak, names what no passage
        mentions, or carries not the question's topic."""
        language, listing = question.language, question.listing
        contact = self._contacts.get(language) or self._contacts["en"]
        named_kind = "funding_call" if names_a_call(question_text) else None  # "when is" alone says no kind
        if self._ranking.unsure(hits + ([outside] if outside else []), language, named_kind) or not (hits or outside):
            logger.info("abstained confidence=%.3f language=%s",
                        self._ranking.confidence(hits + ([outside] if outside else [])), language)
            logger.debug("abstained question=%r", question_text[:200])
            return abstain(question, contact)
        if not listing and self._names is not None and (unknown := self._names.missing_names(
                question_names(question_text, language),
                [(str(h.metadata.get("title", "")), h.text) for h in ([outside] if outside else []) + hits])):
            # The question names something no passage found mentions ("the Eurostars call" when only the EIC
            # Accelerator is indexed): the closest passages are about something else, so do not answer from them.
            logger.info("abstained: a name of the question is in no passage found (%d) language=%s",
                        len(unknown), language)
            logger.debug("abstained names=%r", unknown)
            return abstain(question, contact)
        about: list[Hit] | None = hits
        if not listing and self._names is not None and (about := self._on_topic(self._names, question, hits)) is None:
            logger.info("abstained: no %s found carries the question's topic language=%s", question.scope.kind,
                        language)
            return abstain(question, contact)
        # the event or call the question is about first
        return self._write(question, about if about is not None else hits, outside, on_text)

    def _one_item_named(self, query: str, scope: TimeScope, hits: list[Hit]) -> bool:
        """Whether a question with a time window asks about one item rather than for a list: it names it with
        the definite article and its kind noun ("the summit in June", "la conférence en juin"), no "next" or
        "past" word, and the first item found is the only one of the window whose title carries that noun."""
        if self._names is None or says_next_or_past(query) or not hits:
            return False
        noun = item_noun(query)
        records = records_of(hits, scope.kind)
        if noun is None or not records or hits[0].record_key != records[0].record_key:
            return False
        titles = [str(h.metadata.get("title", "")) for h in records]
        found = [flags[0] for flags in self._names.terms_found([noun], [(title, "") for title in titles])]
        # ... or the same kind of event in another language ("der Gipfel": "Health Innovation Summit")
        kind = kinds_named(noun)
        found = [hit or bool(kind & kinds_named(title)) for hit, title in zip(found, titles)]
        return found.count(True) == 1 and found[0]

    def _after_window(self, query: str, filters: Filters, language: str) -> list[Hit]:
        """The events (calls) after a listing's window ends, "next Tuesday" or "before March"; none for a window
        without an end, or in the past ("last month")."""
        scope = filters.scope
        if (scope.end is None or scope.past_only or filters.now is None or scope.end <= filters.now
                or not question_terms(query, hyphen_parts=True)):  # "Any events tomorrow?" names nothing
            return []
        after = replace(scope, start=scope.end, end=None, upcoming_only=True)
        try:
            return self._retriever.search(query, replace(filters, scope=after), k=self._k(True), language=language)
        except StoreError:  # the window's own answer stands without it
            logger.warning("knowledge base failed looking past a listing's window language=%s", language)
            return []

    def _k(self, listing: bool) -> int:
        """How many passages to read: a listing picks its items among more of its window's (`listing_passages`)."""
        return max(self._top_k, self._ranking.listing_passages) if listing else self._top_k

    def _on_topic(self, topics: TopicMatcher, question: Question, hits: list[Hit]) -> list[Hit] | None:
        """The hits to answer a question about an event (a call) from, the one about it first; None when none is.

        None ("I don't know"): "Quand a lieu l'atelier cybersécurité ?" when the first passage found is an event
        (a call) and no event (call) found carries a topic word of the question, by stem, acronym or
        same-meaning word in another language (`knowledge.answering.items_about`, as listings): the AI
        workshop's date is not the answer. When a guide comes first ("What is the deadline of the cybersecurity
        call?" found the partner page's "your deadline"), when no passage found carries one.
        Reordered: "Où se passe la soirée télémédecine franco-suisse ?" found a past telemedicine webinar first;
        the event carrying most of the question's words (the rarer weighing more) is answered from."""
        if not hits or not question.scope.kind:
            return hits
        # The events (calls) found when one comes first; with a guide first, every passage found.
        kind = question.scope.kind if hits[0].metadata.get("kind") == question.scope.kind else None
        about = items_about(topics, self._ranking, question.text, records_of(hits, kind))
        if not about:
            return None
        chosen = {hit.record_key for hit in about}
        if kind is None or hits[0].record_key in chosen:
            return hits
        first = about[0].record_key  # the best found of them
        return [h for h in hits if h.record_key == first] + [h for h in hits if h.record_key != first]

    def _write(self, question: Question, hits: list[Hit], outside: Hit | None, on_text: TextSink | None) -> Answer:
        """The answerer's reply; shown while it is written when the front end can and the answerer does."""
        if on_text is not None and isinstance(self._answerer, StreamingAnswerer):
            return self._answerer.answer(question, hits, outside, on_text=on_text)
        return self._answerer.answer(question, hits, outside)

    @staticmethod
    def _standalone_query(text: str, history: Sequence[Turn]) -> str:
        """A follow-up ("and the deadline?", `is_follow_up`) is read with the member's last question that stood
        alone."""
        previous = [t.text for t in history if t.role == "user" and t.text.strip()]
        if not previous or not is_follow_up(text):
            return text
        # "Tell me about the EIC Accelerator" / "and the deadline?" / "Is it open to startups?": the last one is
        # about the EIC Accelerator, not about "the deadline"
        subject = next((earlier for earlier in reversed(previous) if not is_follow_up(earlier)), previous[-1])
        return f"{subject} {text}"


__all__ = ["Concierge", "Incoming", "Reply", "Turn"]
