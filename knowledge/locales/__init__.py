"""Every member-facing sentence and every language-specific word, one catalog module per language.

A catalog (`en.py`, `fr.py`, `de.py`) holds `NAME` (the language's English name), `MESSAGES` (the sentences
members read, by key), `TELLING_WORDS` and `ACCENTS` (what tells its text apart, for
`knowledge.language`), `MONTHS`, `TIME_WORDS` and `GENERIC_WORDS` (how its questions speak of time,
for `knowledge.time_scope`), and `NO_ANSWER_WORDS`, `NUMBER_WORDS` and `WEEKDAYS` (how a chat model's reply says
"I don't know", and the words that are numbers or dates, for `knowledge.grounding`). Adding a language is adding
one such module and its code to `LANGUAGES`.

>>> message("none_match", "de")
'nichts passt zu Ihrer Frage.'
>>> message("closed", "xx", date="2026-10-31")  # unknown language: English
'closed on 2026-10-31'
"""

from __future__ import annotations

from types import ModuleType

from knowledge.locales import de, en, fr

DEFAULT_LANGUAGE = "en"
# Order matters where languages share a word: detection breaks ties in this order after the default.
LANGUAGES: tuple[str, ...] = ("en", "fr", "de")
_CATALOGS: dict[str, ModuleType] = {"en": en, "fr": fr, "de": de}


def catalog(language: str) -> ModuleType:
    """The catalog module of `language` (English when there is none)."""
    return _CATALOGS.get(language, _CATALOGS[DEFAULT_LANGUAGE])


def catalogs() -> dict[str, ModuleType]:
    """Every catalog by language code, in `LANGUAGES` order."""
    return dict(_CATALOGS)


def messages(language: str) -> dict[str, str]:
    """All sentences of `language`, falling back to English key by key."""
    return {**en.MESSAGES, **catalog(language).MESSAGES}


def message(key: str, language: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """The sentence `key` in `language` (English when the language or the key is missing), filled with `values`."""
    sentence = catalog(language).MESSAGES.get(key) or en.MESSAGES[key]
    return sentence.format(**values) if values else sentence


def language_name(language: str) -> str:
    """'French' for "fr": how a prompt names the language to answer in."""
    return str(catalog(language).NAME) if language in _CATALOGS else "the question's language"
