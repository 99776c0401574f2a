"""Builds the objects the front ends need from settings, once (the only place that wires things together)."""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from bot.conversation import Concierge
from knowledge.answering import Answerer, ExtractiveAnswerer
from knowledge.chat_answering import ChatModelAnswerer
from knowledge.clock import Clock, system_clock
from knowledge.embedding import Embedder, load_embedder
from knowledge.keyword_index import KeywordIndex
from knowledge.pipeline import Ingestor
from knowledge.ranking import Ranking
from knowledge.retrieval import Retriever
from knowledge.settings import KnowledgeSettings
from knowledge.store import KnowledgeStore, StoreError, open_store
from knowledge.topic_match import TopicMatcher

logger = logging.getLogger(__name__)


class ConfigurationError(RuntimeError):
    """Settings that cannot work (unknown model provider, missing package)."""


def make_chat_model(settings: KnowledgeSettings):  # noqa: ANN201 - a LangChain BaseChatModel or None
    """The chat model `KB_LLM` names, or None for the extractive default."""
    if settings.llm.strip().lower() in {"", "extractive", "none"}:
        return None
    from langchain.chat_models import init_chat_model

    kwargs: dict[str, Any] = {"timeout": settings.llm_timeout, "max_retries": 1, "temperature": 0}
    if settings.llm_base_url:
        kwargs["base_url"] = settings.llm_base_url
    if settings.llm_api_key is not None:
        kwargs["api_key"] = settings.llm_api_key.get_secret_value()
    elif settings.llm_base_url and settings.llm.strip().lower().startswith("openai:"):
        # A local OpenAI-compatible server (make llm-server, vLLM, LM Studio) checks no key, but the OpenAI
        # client refuses to start without one.
        kwargs["api_key"] = "local"
    try:
        return init_chat_model(settings.llm, **kwargs)
    except Exception as exc:  # noqa: BLE001 - ImportError, ValueError, a provider's own "missing credentials"
        logger.debug("KB_LLM failed", exc_info=True)
        raise ConfigurationError(f"KB_LLM={settings.llm!r} cannot be used: {exc}") from None


def default_ranking(settings: KnowledgeSettings) -> Ranking:
    """The measured ranking defaults, with the abstention threshold the settings give (KB_MIN_CONFIDENCE)."""
    return Ranking(min_confidence=settings.min_confidence)


class Services:
    """Everything a front end needs, built once from settings."""

    def __init__(self, settings: KnowledgeSettings, embedder: Embedder | None = None,
                 store: KnowledgeStore | None = None, chat_model: object | None = None,
                 clock: Clock | None = None, ranking: Ranking | None = None) -> None:
        self.settings = settings
        self.tz = ZoneInfo(settings.timezone)
        # The one clock of the process: the conversation, ingestion, App Home and the bot's state read it.
        self.clock: Clock = clock or system_clock(self.tz)
        self.embedder = embedder or load_embedder(settings.embedding_model)
        self.store = store or open_store(settings.store_path, settings.chroma_url, settings.collection,
                                         self.embedder.name, self.embedder.dimension)
        # The numbers that rank passages and decide to abstain, shared by retrieval and the conversation.
        # Benchmarks pass variants; one passed in carries its own threshold instead of KB_MIN_CONFIDENCE.
        self.ranking = ranking or default_ranking(settings)
        # The keyword index lives in a file beside the store, synced by ingestion and by the retriever.
        self.keyword_index = KeywordIndex(settings.keyword_index_file())
        topics = TopicMatcher(self.embedder)
        self.retriever = Retriever(self.store, self.embedder, ranking=self.ranking, keyword_index=self.keyword_index,
                                   topics=topics)
        extractive = ExtractiveAnswerer(self.embedder, ranking=self.ranking, topics=topics)
        model = chat_model if chat_model is not None else make_chat_model(settings)
        # KB_LLM_TIMEOUT is the member's whole wait for the model (retry included), not only each HTTP call's.
        answerer: Answerer = extractive if model is None else ChatModelAnswerer(
            model, extractive, contact=settings.staff_contact, timeout=settings.llm_timeout)
        self.concierge = Concierge(
            self.retriever, answerer, contact=settings.staff_contact, contacts=settings.contacts(),
            ranking=self.ranking, clock=self.clock, names=topics,
        )

    def ingestor(self) -> Ingestor:
        return Ingestor(self.settings, self.store, self.embedder, now=self.clock, keyword_index=self.keyword_index)

    def status_line(self) -> str:
        """The index status in one line for staff (Slack and Teams `status`), even when the store is down."""
        try:
            status = self.index_status()
        except StoreError as exc:
            return f"The knowledge base cannot be reached: {exc}"
        return (f"{status['sources']} sources, {status['chunks']} chunks; last ingestion "
                f"{status.get('finished_at') or 'never'}, {status.get('failed', 0)} failed.")

    def index_status(self) -> dict[str, object]:
        """Sources, chunks and the last ingestion, for staff."""
        return {"sources": len(self.store.sources()), "chunks": self.store.count(), **self.store.last_run()}
