"""Every sentence the chat front ends say on their own (apologies, thanks, refusals, staff notices), per language.

The sentences themselves live in the language catalogs (`knowledge.locales`, one module per language), with
the answers' own; this module names the bot's words around the answers. Adapters
never write a sentence: they ask the desk (`bot.desk`), which picks the member's language here.

>>> apology("fr")[:7]
'Désolé,'
"""

from __future__ import annotations

from knowledge.locales import DEFAULT_LANGUAGE, LANGUAGES, message

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "SUGGESTED_PROMPTS", "apology", "refusal", "text", "thanks"]

# The assistant panel's suggested prompts: a mix of both languages, so members see they may write in either.
SUGGESTED_PROMPTS = [
    {"title": "Open funding calls", "message": "Which funding calls are still open?"},
    {"title": "Prochains événements", "message": "Quels sont les prochains événements du cluster ?"},
    {"title": "Accreditation", "message": "How do I apply for the accreditation programme?"},
    {"title": "Adhésion", "message": "Combien coûte l'adhésion au cluster ?"},
]


def text(key: str, language: str = DEFAULT_LANGUAGE, **values: str) -> str:
    """The sentence `key` in `language` (English when the catalog has no such language), filled with `values`."""
    return message(key, language, **values)


def apology(language: str) -> str:
    """What a member reads when answering failed (the traceback goes to the log)."""
    return text("apology", language)


def thanks(language: str, helpful: bool) -> str:
    """The reply to a 👍 or 👎."""
    return text("thanks_helpful" if helpful else "thanks_unhelpful", language)


def refusal(language: str, ask_command: str | None = None) -> str:
    """A staff command asked by someone who is not staff; `ask_command` says how to ask instead."""
    if ask_command:
        return text("refusal_ask_hint", language, ask_command=ask_command)
    return text("refusal", language)
