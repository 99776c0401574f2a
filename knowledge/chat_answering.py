"""`ChatModelAnswerer`: a LangChain chat model writes the reply from the passages; its citations are checked.

It falls back to the extractive reply (`knowledge.answering.ExtractiveAnswerer`) whenever the model fails.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from knowledge.answering import (
    Answer,
    Answerer,
    ExtractiveAnswerer,
    Question,
    abstain,
    source_ref,
    status_phrase,
    texts,
)
from knowledge.locales import language_name
from knowledge.ranking import Hit

logger = logging.getLogger(__name__)

_PROMPT = """You are the member-services assistant of a health-innovation cluster.
Answer the member's question using ONLY the numbered passages below. Cite every statement with the
passage number in square brackets, like [1] or [2]. Never invent a date, a deadline, an amount or a name
that is not in the passages. If the passages do not contain the answer, reply exactly: NO_ANSWER.
Today is {today}. A call whose deadline is before today is closed; an event that ended before today is past.
Answer in {language_name}, in at most 120 words.

{passages}"""
_CITATION = re.compile(r"\[(\d+)\]")


class ChatModelAnswerer(Answerer):
    """Asks a LangChain chat model to answer from the passages; checks its citations.

    An answer that cites nothing, or a passage that does not exist, is not sent: the extractive answer
    is, with a short note. So is any error of the model (timeout, rate limit, server error).
    """

    def __init__(self, model, fallback: ExtractiveAnswerer, contact: str = "") -> None:  # noqa: ANN001
        self._model = model
        self._fallback = fallback
        self._contact = contact

    def answer(self, question: Question, hits: Sequence[Hit], outside: Hit | None = None) -> Answer:
        from langchain_core.messages import HumanMessage, SystemMessage

        if question.listing:  # a dated list is built from metadata: nothing for a model to add
            return self._fallback.answer(question, hits, outside)
        pool = ([outside] if outside is not None else []) + list(hits[:5])
        if not pool:  # nothing to answer from: no model call
            return abstain(question, self._contact)
        refs = [source_ref(n, hit, question.now, hit.text[:300]) for n, hit in enumerate(pool, start=1)]
        passages = "\n\n".join(
            f"[{ref.n}] {ref.title}" + (f" ({status_phrase(ref, 'en')})" if ref.status else "") + f"\n{hit.text}"
            for ref, hit in zip(refs, pool)
        )
        system = _PROMPT.format(today=question.now.date().isoformat(), passages=passages,
                                language_name=language_name(question.language))
        t = texts(question.language)
        try:
            reply = self._model.invoke([SystemMessage(system), HumanMessage(question.text)])
            content = reply.content if isinstance(reply.content, str) else str(reply.content)
        except Exception:  # noqa: BLE001 - any provider failure: answer anyway, offline
            logger.exception("chat model failed; answering extractively")
            return self._with_note(question, hits, outside, t["llm_failed"])
        content = content.strip()
        if content.startswith("NO_ANSWER"):
            return abstain(question, self._contact)
        cited = [int(n) for n in _CITATION.findall(content)]
        if not cited or any(n < 1 or n > len(refs) for n in cited):
            logger.warning("chat model answer rejected: citations=%s passages=%d", cited, len(refs))
            return self._with_note(question, hits, outside, t["llm_unchecked"])
        # Renumber in order of first citation, and list only the cited passages.
        order: dict[int, int] = {}
        for n in cited:
            order.setdefault(n, len(order) + 1)
        text = _CITATION.sub(lambda m: f"[{order[int(m.group(1))]}]", content)
        sources = []
        for old, new in order.items():
            ref = refs[old - 1]
            ref.n = new
            sources.append(ref)
        return Answer(text, question.language, sources)

    def _with_note(self, question: Question, hits: Sequence[Hit], outside: Hit | None, note: str) -> Answer:
        answer = self._fallback.answer(question, hits, outside)
        answer.text = f"{answer.text}\n{note}"
        answer.note = note
        return answer
