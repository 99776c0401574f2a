"""What every loader shares: decoding text, front matter, field names, and building a record from fields."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from knowledge.date_parsing import DateError, to_datetime
from knowledge.models import AUDIENCES, KINDS, Record
from knowledge.text import fold


class LoaderError(ValueError):
    """A source that cannot be read; the message is one line a staff member can act on."""


MB = 1024 * 1024
_MAX_YAML_VALUES = 1_000_000  # values a YAML document may expand to through aliases ("billion laughs")


@dataclass
class LoadContext:
    """What a loader needs to know beyond the file itself, and what one file may cost.

    The limits' defaults are those of `KnowledgeSettings` (KB_MAX_FILE_MB...); the Ingestor passes the settings.
    """

    tz: ZoneInfo
    now: datetime
    recurrence_past_days: int = 90
    recurrence_future_days: int = 365
    max_file_mb: float = 50.0
    max_text_mb: float = 10.0
    max_unpacked_mb: float = 200.0
    max_depth: int = 100
    max_occurrences: int = 60


@dataclass
class Loaded:
    """The records read from one source, and the parts of it that could not be read (e.g. one bad row)."""

    records: list[Record]
    problems: list[str] = field(default_factory=list)


def read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if not data.strip():
        raise LoaderError("empty file")
    return data


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) or BOM-marked UTF-16; anything else is refused, never guessed."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data[:8192]:
        raise LoaderError("binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoaderError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02X} at offset {exc.start}): save it as UTF-8"
        ) from None


def over_limit(what: str, size: float, limit_mb: float, setting: str) -> LoaderError:
    """The error for a file over one of the limits, naming the setting that raises it.

    >>> str(over_limit("the file is", 31.5 * MB, 20, "KB_MAX_FILE_MB"))
    'the file is 31.5 MB, over the 20 MB limit (KB_MAX_FILE_MB)'
    """
    return LoaderError(f"{what} {size / MB:.1f} MB, over the {limit_mb:g} MB limit ({setting})")


def check_file_size(path: Path, ctx: LoadContext) -> None:
    """Refuse a file larger than KB_MAX_FILE_MB before reading any of it."""
    size = path.stat().st_size
    if size > ctx.max_file_mb * MB:
        raise over_limit("the file is", size, ctx.max_file_mb, "KB_MAX_FILE_MB")


def check_text_size(text: str, ctx: LoadContext) -> None:
    """Refuse text extracted from a file (PDF, DOCX) beyond KB_MAX_TEXT_MB."""
    if len(text) > ctx.max_text_mb * MB:
        raise over_limit("its text is", len(text), ctx.max_text_mb, "KB_MAX_TEXT_MB")


def read_text(path: Path, ctx: LoadContext) -> str:
    """The text of a text file, refused unread when larger than KB_MAX_TEXT_MB."""
    size = path.stat().st_size
    if size > ctx.max_text_mb * MB:
        raise over_limit("this text file is", size, ctx.max_text_mb, "KB_MAX_TEXT_MB")
    return decode_text(read_bytes(path))


def load_yaml(text: str, ctx: LoadContext, what: str = "YAML") -> object:
    """`yaml.safe_load`, after an event-by-event pass (no recursion) bounding depth and alias expansion.

    PyYAML builds nested values recursively (a few hundred levels raise RecursionError) and aliases can
    expand a small file into billions of values: both are refused first with a one-line reason.
    """
    open_values: list[list] = [[None, 0]]  # [anchor, values so far] per open collection; the root first
    sizes: dict[str, int] = {}
    total = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            open_values.append([event.anchor, 0])
            if len(open_values) - 1 > ctx.max_depth:
                raise LoaderError(f"{what} is nested more than {ctx.max_depth} levels deep (KB_MAX_DEPTH)")
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, count = open_values.pop()
            count += 1
        elif isinstance(event, yaml.ScalarEvent):
            anchor, count = event.anchor, 1
        elif isinstance(event, yaml.AliasEvent):
            anchor, count = None, sizes.get(event.anchor, 1)
        else:
            continue
        if anchor:
            sizes[anchor] = count
        open_values[-1][1] += count
        total += count
        if total > _MAX_YAML_VALUES:
            raise LoaderError(f"{what} expands to more than {_MAX_YAML_VALUES:,} values (aliases): not read")
    return yaml.safe_load(text)


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def split_front_matter(text: str, ctx: LoadContext) -> tuple[dict[str, object], str]:
    """Split YAML front matter (between `---` lines at the top) from the body."""
    match = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if not match:
        return {}, text
    try:
        meta = load_yaml(match.group(1), ctx, "the front matter") or {}
    except yaml.YAMLError as exc:
        reason = str(exc).splitlines()[0]
        raise LoaderError(f"invalid YAML front matter: {reason}") from None
    if not isinstance(meta, dict):
        raise LoaderError("front matter is not a mapping of `key: value` lines")
    return {normalise_key(str(k)): v for k, v in meta.items()}, text[match.end() :]


def normalise_key(key: str) -> str:
    """'Date limite ' -> 'date_limite', 'Éligibilité' -> 'eligibilite'."""
    return re.sub(r"[^a-z0-9]+", "_", fold(key)).strip("_")


# Canonical field -> the column names staff write for it (normalised), French and English.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title", "titre", "name", "nom", "intitule", "subject", "objet"),
    "url": ("url", "link", "lien", "website", "site", "page"),
    "kind": ("kind", "type", "categorie_de_fiche"),
    "language": ("language", "langue", "lang", "locale"),
    "audience": ("audience", "visibility", "visibilite", "diffusion"),
    "reference": ("reference", "ref", "id", "identifier", "identifiant", "code", "call_id"),
    "funder": ("funder", "financeur", "funding_body", "organisme", "programme", "program"),
    "opens": ("opens", "opening", "opening_date", "open_date", "ouverture", "date_ouverture", "date_d_ouverture"),
    "deadline": (
        "deadline", "closes", "closing", "closing_date", "close_date", "date_limite", "cloture",
        "date_de_cloture", "date_cloture", "echeance",
    ),
    "budget": ("budget", "amount", "montant", "funding", "enveloppe", "financement"),
    "eligibility": ("eligibility", "eligibilite", "who_can_apply", "beneficiaires", "eligible", "pour_qui"),
    "start": ("start", "starts", "start_date", "begin", "debut", "date_debut", "date_de_debut", "date", "when",
              "quand"),
    "end": ("end", "ends", "end_date", "fin", "date_fin", "date_de_fin"),
    "location": ("location", "lieu", "venue", "place", "adresse", "address", "where", "ou"),
    "registration_url": ("registration_url", "registration", "register", "inscription", "lien_inscription", "signup"),
    "description": ("description", "summary", "resume", "details", "detail", "text", "body", "contenu", "content"),
    "status": ("status", "statut", "etat", "state"),  # "cancelled": kept, said cancelled, not listed as ahead
    "topics": ("topics", "topic", "themes", "theme", "tags", "categories", "thematique", "mots_cles", "keywords"),
}
_CANCELLED = {"cancelled", "canceled", "annule", "annulee", "abgesagt", "storniert", "entfallt"}
_ALIAS_TO_FIELD = {alias: name for name, aliases in FIELD_ALIASES.items() for alias in aliases}
DATE_FIELDS = ("opens", "deadline", "start", "end")
_TITLE_LIMIT = 300
_END_OF_DAY = {"deadline", "end"}

_AUDIENCE_ALIASES = {"members": "member", "adherent": "member", "adherents": "member", "membres": "member",
                     "internal": "staff", "interne": "staff", "equipe": "staff", "all": "public", "tous": "public"}
_KIND_ALIASES = {"call": "funding_call", "funding": "funding_call", "appel": "funding_call",
                 "appel_a_projets": "funding_call", "aap": "funding_call", "evenement": "event", "doc": "document"}

def canonical_fields(raw: dict[str, object]) -> tuple[dict[str, object], dict[str, object]]:
    """Map staff column names onto our fields; return (known fields, other columns)."""
    known: dict[str, object] = {}
    other: dict[str, object] = {}
    for key, value in raw.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        name = _ALIAS_TO_FIELD.get(normalise_key(str(key)))
        if name and name not in known:
            known[name] = value
        else:
            other[str(key)] = value
    return known, other


def format_moment(moment: datetime) -> str:
    """'2026-03-15' for a whole-day value, '2026-03-15 14:00 (UTC+01:00)' otherwise."""
    if (moment.hour, moment.minute, moment.second) in {(0, 0, 0), (23, 59, 59)}:
        return moment.date().isoformat()
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} (UTC{offset[:3]}:{offset[3:]})"


def build_record(
    fields: dict[str, object],
    body: str,
    *,
    default_title: str,
    ctx: LoadContext,
    extra: dict[str, object] | None = None,
    default_kind: str = "document",
) -> Record:
    """Build a record from canonical fields (front matter or a table row) and a body.

    Calls and events get a facts line (deadline, funder, dates, place...) at the top of their text,
    so the passage a member sees carries them.
    """
    from knowledge.language import detect_language  # local: keeps loaders importable without extras

    title = str(fields.get("title") or default_title).strip()[:_TITLE_LIMIT]  # each chunk carries it
    if not title:
        raise LoaderError("no title")
    kind = _kind_of(fields, default_kind)
    if kind not in {"event", "funding_call"}:  # a document's front matter "status: draft" or "tags:" says nothing
        fields = {k: v for k, v in fields.items() if k not in {"status", "topics"}}
    if isinstance(topics := fields.get("topics"), (list, tuple)):  # YAML or JSON: tags: [AI, imaging]
        fields = {**fields, "topics": ", ".join(str(t).strip() for t in topics if str(t).strip())}
    if fields.get("status") is not None:  # "Annulé", "CANCELLED", "abgesagt": one value the answers know
        status = str(fields["status"]).strip()
        fields = {**fields, "status": "cancelled" if normalise_key(status) in _CANCELLED else status}
    audience = _choice(fields.get("audience"), AUDIENCES, _AUDIENCE_ALIASES, "audience") or "public"
    dates = _dates_of(fields, ctx)
    language = str(fields["language"]).strip().lower()[:2] if fields.get("language") else None
    description = str(fields.get("description") or "").strip()
    text_body = "\n\n".join(part for part in (body.strip(), description) if part)
    if language is None:
        language = detect_language(f"{title}\n{text_body}")

    facts, plain = _facts(fields, dates, language, extra)
    text = "\n".join(facts)
    if text_body:
        text = f"{text}\n\n{text_body}" if text else text_body
    if not text.strip():
        text = title
    url = str(fields["url"]).strip() if fields.get("url") else None
    return Record(
        title=title, text=text, kind=kind, url=url, language=language, audience=audience,
        dates=dates, fields=plain, whole=kind in {"funding_call", "event"},
    )


def _kind_of(fields: dict[str, object], default_kind: str) -> str:
    """The record's kind as given, else inferred: a deadline or funder makes a call, a start an event."""
    kind = _choice(fields.get("kind"), KINDS, _KIND_ALIASES, "kind")
    if kind is not None:
        return kind
    if "deadline" in fields or "funder" in fields:
        return "funding_call"
    return "event" if "start" in fields else default_kind


def _dates_of(fields: dict[str, object], ctx: LoadContext) -> dict[str, datetime]:
    dates: dict[str, datetime] = {}
    for name in DATE_FIELDS:
        if name in fields:
            try:
                dates[name] = to_datetime(fields[name], ctx.tz, end_of_day=name in _END_OF_DAY)
            except DateError as exc:
                raise LoaderError(f"{name}: {exc}") from None
    return dates


def _facts(fields: dict[str, object], dates: dict[str, datetime], language: str,
           extra: dict[str, object] | None) -> tuple[list[str], dict[str, str]]:
    """The facts lines in the record's language ("Deadline: ...") and the plain values by field name."""
    from knowledge.locales import message

    facts: list[str] = []
    plain: dict[str, str] = {}
    for name in ("status", "reference", "funder", "opens", "deadline", "start", "end", "budget", "eligibility",
                 "location", "topics", "registration_url"):
        value: str
        if name in dates:
            value = str(format_moment(dates[name]))
        elif name in fields:
            value = str(fields[name]).strip()
        else:
            continue
        plain[name] = value
        shown = message("status_cancelled", language) if (name, value) == ("status", "cancelled") else value
        facts.append(f"{message('fact_' + name, language)}: {shown}")
    for key, extra_value in (extra or {}).items():
        facts.append(f"{key}: {extra_value}")
    return facts, plain


def _choice(value: object, allowed: tuple[str, ...], aliases: dict[str, str], what: str) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    key = normalise_key(str(value))
    key = aliases.get(key, key)
    if key not in allowed:
        raise LoaderError(f"{what} {value!r} is not one of {', '.join(allowed)}")
    return key
