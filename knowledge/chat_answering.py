"""`ChatModelAnswerer`: a LangChain chat model writes the reply from the passages; the reply is checked first.

What is checked before a member sees it:

- its language: a reply in another language than the question's is asked again, once, with the instructions
  written in the member's language (`llm_prompt` in `knowledge.locales`); a second miss gets the extractive answer;
- its citations, sentence by sentence (`knowledge.grounding`): every number, date, amount and name must be in a
  passage the sentence cites, else the extractive answer is sent with a short note;
- abstention: "NO_ANSWER", or a reply that says in words (French, English, German) that the passages do not answer
  and cites nothing, becomes the honest "I don't know" with whom to ask.

Streaming: the reply is read as the model writes it. A caller's `on_text` receives it sentence by sentence, each
sentence once it is complete and checked, with its citations already numbered as in the final answer; nothing is
shown before the reply cites a passage and reads in the member's language, so NO_ANSWER, an "I don't know" and a
reply in the wrong language are never shown. When the reply fails later on, the answer is the extractive one: the
front end replaces what it showed (see `bot.slack.live`, `bot.teams.app`).

Deadline: one budget (`KB_LLM_TIMEOUT`) from the start of the first model call, shared with the retry. A reply not
checked and complete by then is abandoned for the extractive answer, whatever the provider client's own timeout
and retries would have done.

Any error of the model (timeout, rate limit, server error) gets the extractive answer with a note.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from knowledge.answering import (
    Answer,
    Answerer,
    ExtractiveAnswerer,
    Question,
    SourceRef,
    abstain,
    source_ref,
    status_phrase,
    texts,
)
from knowledge.grounding import (
    Facts,
    Sentence,
    cited_numbers,
    cited_to,
    effective_cites,
    facts_of,
    renumber,
    says_no_answer,
    sentences,
    states_facts,
    unsupported,
    without_markers,
)
from knowledge.language import detect_language
from knowledge.locales import language_name, message
from knowledge.ranking import Hit

logger = logging.getLogger(__name__)

# Short replies in the passages' own words, a marker closing every sentence, no example sentence: the packaged
# 1.5B model copied the example ("The yearly fee for an SME is 900 EUR [2].") into its answers and, asked to use
# "ONLY" the passages, said NO_ANSWER to 10 of 11 gdpr questions whose passages held the answer (12-question
# subsets, README "How fast, how good").
_PROMPT = """You are the member-services assistant of a health-innovation cluster.
Answer the member's question from the numbered passages below, and from nothing else, in one to three
complete sentences that say what they are about. Use the passages' own words. End every sentence with the
number of the passage it comes from, in square brackets, like [1]. Never write a date, a deadline, an amount
or a name that is not in the passages. If the passages do not contain the answer, reply exactly: NO_ANSWER.
Today is {today}. A call whose deadline is before today is closed; an event that ended before today is past.
Answer in {language_name}.

{passages}"""
_NO_ANSWER = "NO_ANSWER"
_POLL_SECONDS = 0.01  # how often the model's reply is looked at while it is being written
_GATE_WORDS = 6  # words of a reply read before its language is judged and its first sentence shown

TextSink = Callable[[str], None]


class StreamingAnswerer(Answerer):
    """An answerer that can show its reply while it is being written."""

    @abstractmethod
    def answer(self, question: Question, hits: Sequence[Hit], outside: Hit | None = None,
               on_text: TextSink | None = None) -> Answer:
        """`on_text`, when given, receives the reply's text piece by piece, in order, as it may be shown. The
        pieces make a prefix of the returned answer's text, or (when the reply failed its checks after something
        was shown) text the returned answer replaces."""


@dataclass(frozen=True)
class Verdict:
    """What to do with a finished (or abandoned) reply."""

    kind: str  # "ok", "abstain", "language" (not the member's), "unchecked" (citations or facts failed)
    text: str = ""  # "ok": the reply with its citations renumbered
    cited: tuple[int, ...] = ()  # "ok": the passages cited, in the order of the new numbers
    why: str = ""


class Rejected(Exception):  # noqa: N818 - a verdict, not an error
    """A reply found wanting before it was finished."""

    def __init__(self, kind: str, why: str) -> None:
        super().__init__(why)
        self.verdict = Verdict(kind, why=why)


class Draft:
    """A reply as the model writes it: the part that may already be shown, and at the end its verdict.

    >>> draft = Draft("en", [facts_of("Deadline: 2027-03-04")])
    >>> [draft.add(piece) for piece in ("The deadline of the call is 4 March 2027 [1].", " Apply", " online.")]
    ['', 'The deadline of the call is 4 March 2027 [1].', '']
    >>> draft.finish().text
    'The deadline of the call is 4 March 2027 [1]. Apply online.'
    """

    def __init__(self, language: str, passages: Sequence[Facts], *, also: Facts | None = None,
                 titles: Sequence[str] = ()) -> None:
        self.language = language
        self.raw = ""
        self.shown = ""  # what `add` has released, citations renumbered
        self._passages = list(passages)
        self._also = [also] if also is not None else []  # what the instructions state (today's date)
        self._titles = [t for t in titles if t.strip()]
        self._released = 0  # sentences released
        self._order: dict[int, int] = {}  # cited passage -> its number in the answer
        self._language_ok = False

    def add(self, piece: str) -> str:
        """Take the next piece of the reply; return the text that may now be shown besides what already was.
        Raises `Rejected` as soon as the reply is known to fail (a sentence not grounded, another language)."""
        self.raw = self.raw + piece if self.raw else piece.lstrip()
        return self._release(finished=False) if self.raw else ""

    def finish(self) -> Verdict:
        """The verdict on the whole reply."""
        content = self.raw.strip()
        cites = cited_numbers(content)
        if content.startswith(_NO_ANSWER) or (not cites and (_NO_ANSWER in content or says_no_answer(content))):
            return Verdict("abstain", why="the model says the passages do not answer")
        if not without_markers(content).strip(" .,;:-\n"):
            return Verdict("unchecked", why="the reply is only citation markers")
        if _only_asks(sentences(content, finished=True)):
            # The packaged 1.5B model sometimes gives the member's question back, cited: it states nothing false,
            # and answers nothing.
            return Verdict("unchecked", why="the reply only asks")
        if not cites:
            attributed = self._attributed(content)
            if attributed is None:
                return Verdict("unchecked", why="the reply cites no passage")
            self.raw = content = attributed  # nothing was shown: nothing is shown before a citation
        try:
            self._release(finished=True)
        except Rejected as rejected:
            return rejected.verdict
        if not self._in_language(content):
            return Verdict("language", why="the whole reply reads in another language")
        return Verdict("ok", self.shown, tuple(self._order))

    def _attributed(self, content: str) -> str | None:
        """A reply that cites nothing, with its citation when one passage holds every fact it states.

        Small models often answer right but drop the markers; the member still sees what every number, date
        and name comes from, because it is checked against that passage. A reply stating no fact (nothing to
        check it by) gets none.
        """
        if not states_facts(content, self.language):
            return None
        units = sentences(content, finished=True)
        for n, passage in enumerate(self._passages, start=1):
            if all(not unsupported(u.text, [passage, *self._also], self.language) for u in units):
                return "\n".join(f"{line.rstrip()} [{n}]" if line.strip() else line for line in content.splitlines())
        return None

    def _release(self, *, finished: bool) -> str:
        units = sentences(self.raw, finished=finished)
        if not self._language_ok:
            self._judge_language(units, finished)
        ready = self._released
        while ready < len(units) and units[ready].closed:
            cites = effective_cites(units, ready, finished=finished)
            if cites is None:
                break
            grounded = self._grounded(units[ready], cites, finished)
            if grounded is None:  # its citation was put right: read the reply again
                units = sentences(self.raw, finished=finished)
                continue
            if not grounded:
                break
            ready += 1
        batch = units[self._released : ready]
        # Nothing is shown before the reply cites a passage: an "I don't know" in words cites nothing.
        if not batch or not self._language_ok or not (self.shown or any(u.cites for u in batch)):
            return ""
        if not finished and not self.shown and _only_asks(batch):
            return ""  # a reply opening on a question shows it with what follows: it may be the member's own
        cut = batch[-1].end
        for n in cited_numbers(self.raw[:cut]):
            self._order.setdefault(n, len(self._order) + 1)
        text = renumber(self.raw[:cut], self._order)
        new, self.shown, self._released = text[len(self.shown) :], text, ready
        return new

    def _judge_language(self, units: Sequence[Sentence], finished: bool) -> None:
        written = " ".join(u.text for u in units if u.closed)
        if len(written.split()) < _GATE_WORDS and not finished:
            return
        if written and not self._in_language(written):
            raise Rejected("language", "the reply opens in another language")
        self._language_ok = True

    def _grounded(self, unit: Sentence, cites: tuple[int, ...], finished: bool) -> bool | None:
        """True when the sentence may be shown; False to wait (an uncited fact: the reply may be an abstention,
        judged once it is finished); None when its citation was put right (`_recite`). Raises `Rejected` when
        it may never be."""
        missing_passages = [n for n in cites if not 1 <= n <= len(self._passages)]
        if missing_passages:
            raise Rejected("unchecked", f"cites passages that do not exist: {missing_passages}")
        if not cites:
            if not states_facts(unit.text, self.language):
                return True
            if finished:
                raise Rejected("unchecked", f"a sentence states {unsupported(unit.text, [], self.language)} "
                                            "and cites nothing")
            return False
        missing = unsupported(unit.text, [self._passages[n - 1] for n in cites] + self._also, self.language)
        if missing:
            if unit.cites and self._recite(unit):
                return None
            raise Rejected("unchecked", f"{missing} not in the passages it cites {list(cites)}")
        return True

    def _recite(self, unit: Sentence) -> bool:
        """A sentence citing a passage that does not hold its facts, cited instead to the first that holds them
        all (small models often number passages wrongly): what the member reads is still checked, and the link
        goes where the facts are. Only the sentence's own markers are changed; False when no passage holds them."""
        for n, passage in enumerate(self._passages, start=1):
            if not unsupported(unit.text, [passage, *self._also], self.language):
                span = self.raw[unit.start:unit.end]
                self.raw = f"{self.raw[:unit.start]}{cited_to(span, n)}{self.raw[unit.end:]}"
                return True
        return False

    def _in_language(self, text: str) -> bool:
        """Judged without the passages' titles: an English answer may name "Appel à projets Innov'Santé"."""
        text = without_markers(text)
        for title in self._titles:
            text = re.sub(re.escape(title), " ", text, flags=re.IGNORECASE)
        return detect_language(text, default=self.language) == self.language


class Late(Exception):  # noqa: N818 - the budget, not an error
    """The chat model's budget ran out before its reply was complete."""


def _only_asks(units: Sequence[Sentence]) -> bool:
    """Whether every sentence is a question ("What is the deadline of the EIC Accelerator? [1]")."""
    return all(unit.text.rstrip().endswith("?") for unit in units)


def read_before(model: Any, messages: list[Any], deadline: float) -> Generator[str, None, None]:
    """The text of the model's streamed reply, given up at `deadline` (a `time.monotonic()` value) with `Late`.

    The model is read on a helper thread so that the wait can end on time even while the provider's client is
    blocked on a slow socket; that thread then stops at its next piece, or at the client's own timeout. Past the
    deadline, pieces the model already delivered are still taken (our own slowness, showing them, is not the
    model's), but nothing more is waited for.
    """
    inbox: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()

    def read() -> None:
        stream = None
        try:
            stream = model.stream(messages)
            for chunk in stream:
                if stop.is_set():
                    return
                inbox.put(("text", chunk.text))
            inbox.put(("end", None))
        except Exception as exc:  # noqa: BLE001 - handed to the reader, which decides
            inbox.put(("error", exc))
        finally:
            getattr(stream, "close", lambda: None)()

    threading.Thread(target=read, name="chat-model-reader", daemon=True).start()
    try:
        while True:
            # Polled, not a timed wait on the queue: a timed lock wait ignores a shifted clock (libfaketime, as
            # in `make test-faketime`) and would wait for the model past the deadline.
            try:
                kind, value = inbox.get_nowait()
            except queue.Empty:
                if time.monotonic() >= deadline:
                    raise Late from None
                time.sleep(_POLL_SECONDS)
                continue
            if kind == "end":
                return
            if kind == "error":
                raise value
            if value:
                yield value
    finally:
        stop.set()


class _Sink:
    """The caller's `on_text`: fed non-empty text only, and never allowed to break the answer."""

    def __init__(self, on_text: TextSink | None) -> None:
        self._on_text = on_text
        self.used = False

    def __call__(self, text: str) -> None:
        if not text or self._on_text is None:
            return
        self.used = True
        try:
            self._on_text(text)
        except Exception:  # noqa: BLE001 - the answer goes on; the front end finishes it from the Reply
            logger.exception("showing the reply as it is written failed; the answer is sent whole")
            self._on_text = None


class ChatModelAnswerer(StreamingAnswerer):
    """Asks a LangChain chat model to answer from the passages; checks its language, citations and facts.

    A reply that fails a check is not sent: the extractive answer is, with a short note. So is any error of the
    model, and a reply not complete within `timeout` seconds of the first call.
    """

    def __init__(self, model: Any, fallback: ExtractiveAnswerer, contact: str = "", timeout: float = 30.0) -> None:
        self._model = model
        self._fallback = fallback
        self._contact = contact
        self._timeout = timeout

    def answer(self, question: Question, hits: Sequence[Hit], outside: Hit | None = None,
               on_text: TextSink | None = None) -> Answer:
        if question.listing:  # a dated list is built from metadata: nothing for a model to add
            return self._fallback.answer(question, hits, outside)
        pool = ([outside] if outside is not None else []) + list(hits[:5])
        if not pool:  # nothing to answer from: no model call
            return abstain(question, self._contact)
        refs = [source_ref(n, hit, question.now, hit.text[:300]) for n, hit in enumerate(pool, start=1)]
        t = texts(question.language)
        sink = _Sink(on_text)
        deadline = time.monotonic() + self._timeout
        verdict = Verdict("language")
        for localized in (False, True):
            try:
                verdict = self._attempt(question, refs, pool, localized, deadline, sink)
            except Late:
                logger.warning("chat model gave no checked answer within %.1fs; answering extractively", self._timeout)
                return self._with_note(question, hits, outside, t["llm_failed"])
            except Exception:  # noqa: BLE001 - any provider failure: answer anyway, offline
                logger.exception("chat model failed; answering extractively")
                return self._with_note(question, hits, outside, t["llm_failed"])
            if verdict.kind != "language" or sink.used:
                break
            logger.info("chat model answered in another language (%s); asking again in %s", verdict.why,
                        question.language)
        if verdict.kind == "abstain":
            return abstain(question, self._contact)
        if verdict.kind != "ok":
            logger.warning("chat model answer rejected: %s (%s)", verdict.kind, verdict.why)
            note = t["llm_language"] if verdict.kind == "language" else t["llm_unchecked"]
            return self._with_note(question, hits, outside, note)
        sources: list[SourceRef] = []
        for new, old in enumerate(verdict.cited, start=1):  # only the cited passages, in their new numbering
            ref = refs[old - 1]
            ref.n = new
            sources.append(ref)
        return Answer(verdict.text, question.language, sources)

    def _attempt(self, question: Question, refs: list[SourceRef], pool: list[Hit], localized: bool,
                 deadline: float, sink: _Sink) -> Verdict:
        """One reply of the model, read until it is finished, fails a check, or the deadline passes."""
        from langchain_core.messages import HumanMessage, SystemMessage

        # The first request speaks English and names the language; the retry speaks the member's language.
        status_language = question.language if localized else "en"
        bodies = [ref.title + (f" ({status_phrase(ref, status_language)})" if ref.status else "") + f"\n{hit.text}"
                  for ref, hit in zip(refs, pool)]
        passages = "\n\n".join(f"[{ref.n}] {body}" for ref, body in zip(refs, bodies))
        today = question.now.date().isoformat()
        system = (message("llm_prompt", question.language, today=today, passages=passages) if localized else
                  _PROMPT.format(today=today, passages=passages, language_name=language_name(question.language)))
        draft = Draft(question.language, [facts_of(body) for body in bodies], also=facts_of(today),
                      titles=[ref.title for ref in refs])
        pieces = read_before(self._model, [SystemMessage(system), HumanMessage(question.text)], deadline)
        try:
            for piece in pieces:
                sink(draft.add(piece))
        except Rejected as rejected:
            return rejected.verdict
        finally:
            pieces.close()
        return draft.finish()

    def _with_note(self, question: Question, hits: Sequence[Hit], outside: Hit | None, note: str) -> Answer:
        answer = self._fallback.answer(question, hits, outside)
        answer.text = f"{answer.text}\n{note}"
        answer.note = note
        return answer


__all__ = ["ChatModelAnswerer", "Draft", "Late", "Rejected", "StreamingAnswerer", "TextSink", "Verdict",
           "read_before"]
