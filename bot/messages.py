"""Every sentence the chat front ends say on their own (apologies, thanks, refusals, staff notices), per language.

Answers themselves come from `knowledge.answering`; this module owns the bot's words around them. Adapters
never write a sentence: they ask the desk (`bot.desk`), which picks the member's language here.

>>> apology("fr")[:7]
'Désolé,'
"""

from __future__ import annotations

LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"

_CATALOG: dict[str, dict[str, str]] = {
    "en": {
        "apology": "Sorry, something went wrong while answering. The team has been notified; please try again later.",
        "thanks_helpful": "Thanks for your feedback!",
        "thanks_unhelpful": "Thanks — the team will look at this answer.",
        "refusal": "Sorry, this command is for the cluster team.",
        "refusal_ask_hint": "Sorry, this command is for the cluster team. Ask me anything with {ask_command}!",
        "ask_usage": "Usage: {command} your question",
        "staff_usage": "Usage: {command} {actions}",
        "reingest_started": "Ingestion started…",
        "reingest_running": "An ingestion is already running.",
        "reingest_failed": "The ingestion failed; the details are in the bot's log.",
        "no_gaps": "No knowledge gap recorded.",
        "greeting": "Bonjour ! Ask me about funding calls, events and cluster services — in French or English.",
        "thinking": "is thinking…",
    },
    "fr": {
        "apology": "Désolé, une erreur est survenue pendant la réponse. L'équipe est prévenue ; "
                   "merci de réessayer plus tard.",
        "thanks_helpful": "Merci pour votre retour !",
        "thanks_unhelpful": "Merci — l'équipe va examiner cette réponse.",
        "refusal": "Désolé, cette commande est réservée à l'équipe du cluster.",
        "refusal_ask_hint": "Désolé, cette commande est réservée à l'équipe du cluster. "
                            "Posez-moi vos questions avec {ask_command} !",
        "ask_usage": "Utilisation : {command} votre question",
        "staff_usage": "Utilisation : {command} {actions}",
        "reingest_started": "Ingestion lancée…",
        "reingest_running": "Une ingestion est déjà en cours.",
        "reingest_failed": "L'ingestion a échoué ; le détail est dans le journal du bot.",
        "no_gaps": "Aucune lacune enregistrée.",
        "greeting": "Bonjour ! Posez-moi vos questions sur les appels à projets, les événements et les services "
                    "du cluster, en français ou en anglais.",
        "thinking": "réfléchit…",
    },
}

# The assistant panel's suggested prompts: a mix of both languages, so members see they may write in either.
SUGGESTED_PROMPTS = [
    {"title": "Open funding calls", "message": "Which funding calls are still open?"},
    {"title": "Prochains événements", "message": "Quels sont les prochains événements du cluster ?"},
    {"title": "Accreditation", "message": "How do I apply for the accreditation programme?"},
    {"title": "Adhésion", "message": "Combien coûte l'adhésion au cluster ?"},
]


def text(key: str, language: str = DEFAULT_LANGUAGE, **values: str) -> str:
    """The sentence `key` in `language` (English when the catalog has no such language), filled with `values`."""
    catalog = _CATALOG.get(language, _CATALOG[DEFAULT_LANGUAGE])
    return catalog[key].format(**values) if values else catalog[key]


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
