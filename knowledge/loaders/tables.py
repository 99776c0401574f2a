"""CSV, JSON and YAML tables of funding calls or events: one row, one record."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import yaml

from knowledge.loaders.base import (
    LoadContext,
    Loaded,
    LoaderError,
    build_record,
    canonical_fields,
    load_yaml,
    read_text,
)

# A string (skipped; an unterminated one runs to the end, once) or a bracket.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]')


def check_json_depth(text: str, max_depth: int) -> None:
    """Refuse JSON nested deeper than `max_depth`, scanning brackets outside strings (no recursion).

    >>> check_json_depth('{"rows": [{"title": "[not a bracket"}]}', 3)
    """
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                raise LoaderError(f"JSON nested more than {max_depth} levels deep (KB_MAX_DEPTH)")
        elif token in "]}":
            depth -= 1


def _rows_from_csv(text: str) -> list[dict[str, object]]:
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel  # one column, or the sniffer could not tell: plain commas
    reader = csv.DictReader(io.StringIO(text), dialect=dialect, restkey="__extra__")
    if not reader.fieldnames or all(not (f or "").strip() for f in reader.fieldnames):
        raise LoaderError("CSV has no header row")
    rows: list[dict[str, object]] = []
    for row in reader:
        if "__extra__" in row:
            rows.append({"__error__": f"{len(reader.fieldnames) + len(row['__extra__'])} fields, "
                         f"the header has {len(reader.fieldnames)}"})
        else:
            rows.append(row)
    return rows


def _rows_from_tree(data: object, what: str) -> list[dict[str, object]]:
    if isinstance(data, dict):
        lists = [value for value in data.values() if isinstance(value, list)]
        if len(lists) != 1:
            raise LoaderError(f"{what} must be a list of records, or a mapping holding one such list")
        data = lists[0]
    if not isinstance(data, list):
        raise LoaderError(f"{what} must be a list of records")
    return [row if isinstance(row, dict) else {"__error__": "not a mapping of fields"} for row in data]


def load_table(path: Path, ctx: LoadContext) -> Loaded:
    """Each row becomes a funding call, an event or a document, by its `kind` column or its fields."""
    text = read_text(path, ctx)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            rows = _rows_from_csv(text)
        elif suffix == ".json":
            check_json_depth(text, ctx.max_depth)
            rows = _rows_from_tree(json.loads(text), "JSON")
        else:
            rows = _rows_from_tree(load_yaml(text, ctx), "YAML")
    except json.JSONDecodeError as exc:
        raise LoaderError(f"invalid JSON: {exc.msg} at line {exc.lineno}") from None
    except yaml.YAMLError as exc:
        raise LoaderError(f"invalid YAML: {str(exc).splitlines()[0]}") from None
    except csv.Error as exc:
        raise LoaderError(f"invalid CSV: {exc}") from None

    records, problems = [], []
    first_line = 2 if suffix == ".csv" else 1  # CSV row numbers as a spreadsheet shows them
    for number, row in enumerate(rows, start=first_line):
        if "__error__" in row:
            problems.append(f"row {number}: {row['__error__']}")
            continue
        known, other = canonical_fields(row)
        if not known and not other:
            continue  # blank line
        if not known.get("title"):
            problems.append(f"row {number}: no title")
            continue
        extra = {key: value for key, value in other.items() if not str(key).startswith("_")}
        try:
            records.append(build_record(known, "", default_title="", ctx=ctx, extra=extra))
        except LoaderError as exc:
            problems.append(f"row {number}: {exc}")
    if not records and problems:
        raise LoaderError(f"no readable row; {problems[0]}")
    if not records:
        raise LoaderError("table has no rows")
    return Loaded(records, problems)
