"""Typed settings of the knowledge base, read once from the environment and `.env` (prefix `KB_`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SOURCES = [Path(__file__).parent / "sample"]


DEFAULT_CONTACT = "the member-services team (contact@cluster.example.org)"
# The default contact in the other languages, so that a French reply does not name "the member-services team".
DEFAULT_CONTACTS = {"fr": "l'équipe des services aux adhérents (contact@cluster.example.org)",
                    "de": "das Mitgliederservice-Team (contact@cluster.example.org)"}


class KnowledgeSettings(BaseSettings):
    """Where the index lives, what it is built from and with which model."""

    model_config = SettingsConfigDict(env_prefix="KB_", env_file=".env", extra="ignore")

    store_path: Path = Field(
        Path("var/chroma"),
        description="Folder of the embedded Chroma store (used when KB_CHROMA_URL is not set).",
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (`chroma run`), e.g. http://127.0.0.1:8000. "
        "When set, the embedded store is not used.",
    )
    collection: str = Field("cluster_knowledge", description="Chroma collection name (3+ characters).")
    keyword_index_path: Path | None = Field(
        None,
        description="SQLite file of the keyword (BM25) index; default "
        "`<KB_STORE_PATH>/<KB_COLLECTION>.keywords.sqlite3`. Each machine may keep its own: it follows the "
        "store by itself.",
    )
    embedding_model: str = Field(
        "use-multilingual",
        description="Embedding model: `use-multilingual` (packaged, offline), `e5-small` (packaged, offline), "
        "`all-MiniLM-L6-v2` (packaged, offline), or any sentence-transformers model name or path.",
    )
    sources: Annotated[list[Path], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_SOURCES),
        description="Default folders/files ingested when `ingest.py` gets none (comma-separated).",
    )
    base_url: str | None = Field(
        None,
        description="Base URL joined with a source's path relative to its ingested folder, "
        "for sources with no `url` of their own.",
    )
    timezone: str = Field("Europe/Paris", description="Time zone of floating times and all-day dates.")
    recurrence_past_days: int = Field(
        90, ge=0, le=3660, description="Recurring events: expand occurrences this many days back (10 years at most)."
    )
    recurrence_future_days: int = Field(
        365, ge=0, le=3660, description="Recurring events: expand occurrences this many days ahead (10 years at most)."
    )
    chunk_chars: int = Field(500, description="Target size of a chunk, in characters (500 measured best: README).")
    embed_batch: int = Field(64, description="Texts per embedding call.")

    # What one file may cost (README: "Limits on what one file may cost"). A file over a limit is reported
    # as failed with the setting's name; the rest of the run goes on.
    max_file_mb: float = Field(50.0, gt=0, description="Largest file read, in MB; checked before reading it.")
    max_text_mb: float = Field(
        10.0, gt=0, description="Most text one file may hold, in MB: the size of a text file (Markdown, HTML, "
        "CSV, JSON, YAML, .ics), the text extracted from a PDF or DOCX."
    )
    max_unpacked_mb: float = Field(
        200.0, gt=0, description="Most a DOCX (a zip) may unpack to, in MB: its declared sizes and what is "
        "actually unpacked (zip bombs)."
    )
    max_depth: int = Field(
        100, ge=1, description="Deepest nesting read in JSON, YAML (tables, front matter) and HTML."
    )
    max_occurrences: int = Field(
        60, ge=1, description="Occurrences of one recurring calendar event indexed, the earliest in the window."
    )
    file_seconds: float = Field(
        120.0, gt=0, description="Time one file may take to be read and chunked; past it, its reader is stopped."
    )
    worker_memory_mb: int = Field(
        2048, ge=256, description="Address space of the process that reads files, in MB: a file that needs "
        "more fails on its own instead of exhausting the machine."
    )

    llm: str = Field(
        "extractive",
        description="`extractive` (offline, no generative model) or a LangChain chat model as `provider:model`, "
        "e.g. `openai:gpt-4o-mini`, `mistralai:mistral-small-latest`, `anthropic:claude-3-5-haiku-latest`, "
        "`ollama:llama3.1`.",
    )
    llm_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible server (or Ollama).")
    llm_api_key: SecretStr | None = Field(None, description="API key of the chat model provider.")
    llm_timeout: float = Field(
        30.0, description="Seconds a member may wait for the chat model's checked answer, from its first call to the "
        "end of its reply (a retry included); past it the extractive answer is sent.")
    staff_contact: str = Field(
        DEFAULT_CONTACT,
        description="Who members should contact when the assistant cannot answer (shown as is).",
    )
    staff_contact_fr: str | None = Field(
        None, description="The same in French (defaults to KB_STAFF_CONTACT); kept as an alias of "
        "`KB_STAFF_CONTACTS=fr=...`."
    )
    staff_contacts: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="Whom to contact, per language, e.g. `fr=l'équipe (contact@cluster.example.org),"
        "de=das Team (contact@cluster.example.org)`; a language not listed gets KB_STAFF_CONTACT.",
    )
    min_confidence: float = Field(
        0.18, description="Below this retrieval confidence (0-1) the assistant says it does not know "
        "(0.18 keeps false abstentions near 5% on the dev sets: README)."
    )

    @field_validator("sources", mode="before")
    @classmethod
    def _split_sources(cls, value: object) -> object:
        if isinstance(value, str):
            return [Path(p.strip()) for p in value.split(",") if p.strip()]
        return value

    @field_validator("staff_contacts", mode="before")
    @classmethod
    def _split_contacts(cls, value: object) -> object:
        if isinstance(value, str):  # a contact may hold commas: split only before the next "xx="
            pairs = (item.split("=", 1) for item in re.split(r",\s*(?=[a-z]{2,3}=)", value.strip()) if item)
            return {code.strip(): contact.strip() for code, contact in pairs}
        return value

    def keyword_index_file(self) -> Path:
        """Where the keyword index lives (KB_KEYWORD_INDEX_PATH, else beside the embedded store)."""
        return self.keyword_index_path or self.store_path / f"{self.collection}.keywords.sqlite3"

    def contacts(self) -> dict[str, str]:
        """Whom members are sent to, by language code ("en" always present; others default to it).

        >>> KnowledgeSettings(staff_contact="the team", staff_contacts="de=das Team", _env_file=None).contacts()
        {'en': 'the team', 'de': 'das Team'}
        """
        by_language = {"en": self.staff_contact}
        if self.staff_contact == DEFAULT_CONTACT:  # the sample's contact, said in each language
            by_language.update(DEFAULT_CONTACTS)
        if self.staff_contact_fr:
            by_language["fr"] = self.staff_contact_fr
        by_language.update(self.staff_contacts)
        return by_language

    @field_validator("collection")
    @classmethod
    def _collection_name(cls, value: str) -> str:
        if len(value) < 3:
            raise ValueError("KB_COLLECTION needs at least 3 characters")
        return value
