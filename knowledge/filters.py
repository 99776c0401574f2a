"""What a search may return: one typed filter over chunk metadata, and the question's `Filters` that build it.

A `ChunkFilter` is defined once and read three ways: the store turns it into a Chroma `where`
(`knowledge.store`), the keyword index into SQL (`knowledge.keyword_index`), and `accepts` checks one
chunk's metadata in plain Python (hits are re-checked against the store's current metadata). A chunk that
lacks a field a condition is about is left out, as Chroma does, except by `NoneOf`: a chunk without the field
holds none of the values, so it is kept (as Chroma's `$nin` keeps it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from knowledge.models import AUDIENCES, MetadataValue, audience_rank
from knowledge.time_scope import TimeScope

Metadata = Mapping[str, MetadataValue]


@dataclass(frozen=True)
class OneOf:
    """The field holds one of `values`."""

    field: str
    values: tuple[str, ...]

    def accepts(self, metadata: Metadata) -> bool:
        return metadata.get(self.field) in self.values


@dataclass(frozen=True)
class NoneOf:
    """The field holds none of `values`; a chunk without the field is kept (unlike `OneOf`)."""

    field: str
    values: tuple[str, ...]

    def accepts(self, metadata: Metadata) -> bool:
        return metadata.get(self.field) not in self.values


@dataclass(frozen=True)
class AtLeast:
    """The field (a timestamp) is at least `bound`."""

    field: str
    bound: int

    def accepts(self, metadata: Metadata) -> bool:
        value = metadata.get(self.field)
        return isinstance(value, int | float) and value >= self.bound


@dataclass(frozen=True)
class Below:
    """The field (a timestamp) is below `bound`."""

    field: str
    bound: int

    def accepts(self, metadata: Metadata) -> bool:
        value = metadata.get(self.field)
        return isinstance(value, int | float) and value < self.bound


Condition = OneOf | NoneOf | AtLeast | Below


@dataclass(frozen=True)
class ChunkFilter:
    """The chunks whose metadata meets every condition (every chunk when there is none).

    >>> ChunkFilter((OneOf("kind", ("event",)), AtLeast("end_ts", 100))).accepts({"kind": "event", "end_ts": 200})
    True
    """

    conditions: tuple[Condition, ...] = ()

    def accepts(self, metadata: Metadata) -> bool:
        return all(condition.accepts(metadata) for condition in self.conditions)


def allowed_audiences(role: str) -> list[str]:
    """A role sees its own audience and those below it: staff see everything, the public only public.

    >>> allowed_audiences("member")
    ['public', 'member']
    """
    if role not in AUDIENCES:
        raise ValueError(f"unknown role {role!r}: one of {', '.join(AUDIENCES)}")
    return [a for a in AUDIENCES if audience_rank(a) <= audience_rank(role)]


@dataclass(frozen=True)
class Filters:
    """What a question may be answered from: the asker's role, kinds, the time window it asks about, and the
    sources it must not be answered from (`exclude`: URLs or paths, matched against both; the evaluation asks
    each question with its gold sources left out to measure abstention on near-domain unanswerable questions).
    """

    role: str = "member"
    kinds: tuple[str, ...] = ()
    scope: TimeScope = field(default_factory=TimeScope)
    now: datetime | None = None
    exclude: tuple[str, ...] = ()

    def time_conditions(self) -> tuple[Condition, ...]:
        """The conditions of the time window (none unless the scope names a kind and `now` is known)."""
        scope, now = self.scope, self.now
        if scope.kind is None or now is None:
            return ()
        now_ts = int(now.timestamp())
        out: list[Condition] = []
        if scope.kind == "event":
            if scope.upcoming_only:
                out.append(AtLeast("end_ts", now_ts))  # not over yet
            if scope.past_only:
                out.append(Below("end_ts", now_ts))
            if scope.end is not None:
                out.append(Below("start_ts", int(scope.end.timestamp())))
            if scope.start is not None:
                out.append(AtLeast("end_ts", int(scope.start.timestamp())))
        else:
            if scope.upcoming_only:
                out.append(AtLeast("deadline_ts", now_ts))  # not closed yet
            if scope.end is not None:
                out.append(Below("deadline_ts", int(scope.end.timestamp())))
            if scope.start is not None:
                out.append(AtLeast("deadline_ts", int(scope.start.timestamp())))
        return tuple(out)

    @property
    def has_time_window(self) -> bool:
        """True when the question's time words narrow what it may be answered from ("upcoming events")."""
        return bool(self.time_conditions())

    def chunk_filter(self, *, with_time: bool = True) -> ChunkFilter:
        """The chunks these filters keep; `with_time=False` lifts the time window (role, kind and exclusions stay)."""
        time_conditions = self.time_conditions()
        conditions: list[Condition] = [OneOf("audience", tuple(allowed_audiences(self.role)))]
        kinds = self.kinds or ((self.scope.kind,) if self.scope.kind and time_conditions else ())
        if kinds:
            conditions.append(OneOf("kind", tuple(kinds)))
        if self.exclude:  # a gold source may be named by its URL or by its path
            conditions += [NoneOf("url", self.exclude), NoneOf("path", self.exclude)]
        if with_time:
            conditions.extend(time_conditions)
        return ChunkFilter(tuple(conditions))
