"""Every sentence the chat front ends say on their own (apologies, thanks, refusals, staff notices), per language.

The sentences themselves live in the language catalogs (`knowledge.locales`, one module per language), with
the answers' own; this module names the bot's words around the answers. Adapters
never write a sentence: they ask the desk (`bot.desk`), which picks the member's language here.
The sentences of erasure ("forget me"), of the scheduled jobs and of the channel digests are kept in `_OWN`
below, per language, until they move into the catalogs.

>>> apology("fr")[:7]
'Désolé,'
"""

from __future__ import annotations

from knowledge.locales import DEFAULT_LANGUAGE, LANGUAGES, message

__all__ = ["DEFAULT_LANGUAGE", "FORGET_PHRASES", "LANGUAGES", "REMINDER_LIST_WORDS", "SUGGESTED_PROMPTS", "apology",
           "refusal", "text", "thanks"]

# The assistant panel's suggested prompts: a mix of both languages, so members see they may write in either.
SUGGESTED_PROMPTS = [
    {"title": "Open funding calls", "message": "Which funding calls are still open?"},
    {"title": "Prochains événements", "message": "Quels sont les prochains événements du cluster ?"},
    {"title": "Accreditation", "message": "How do I apply for the accreditation programme?"},
    {"title": "Adhésion", "message": "Combien coûte l'adhésion au cluster ?"},
]


# What a member writes to have the bot erase what it keeps about them (`/concierge forget-me`, Teams
# `forget me`), folded (lower case, hyphens as spaces), and the language each is in.
FORGET_PHRASES = {"forget me": "en", "oublie moi": "fr", "oubliez moi": "fr", "vergiss mich": "de",
                  "vergessen sie mich": "de"}

# What a member writes to list their deadline reminders (`/concierge reminders`, Teams `reminders` in a 1:1 chat).
REMINDER_LIST_WORDS = {"reminders": "en", "my reminders": "en", "rappels": "fr", "mes rappels": "fr",
                       "erinnerungen": "de", "meine erinnerungen": "de"}

_OWN: dict[str, dict[str, str]] = {
    "en": {
        "forgotten": "Done: I have erased everything I kept under your id. Removed:",
        "forgotten_nothing": "I kept nothing under your id: there was nothing to erase.",
        "forgotten_questions": "questions and their answers: {count}",
        "forgotten_feedback": "👍/👎 feedback: {count}",
        "forgotten_follows": "follows: {count}",
        "forgotten_reminders": "reminders: {count}",
        # Followed topics (bot.follows)
        "follow_added": "I'll tell you when a call or an event about “{topic}” is added.",
        "follow_removed": "I'll no longer tell you about “{topic}”.",
        "follow_not_followed": "You were not following “{topic}”.",
        "follow_list": "You follow these topics:",
        "follow_none": "You follow no topic yet. Write “{command}follow medical AI” to be told when a call or an "
                       "event about it is added.",
        "follow_usage": "Write “{command}follow <topic>” (at most {max} characters), “{command}unfollow <topic>” "
                        "or “{command}following”.",
        "follow_too_many": "You follow {max} topics already: unfollow one first.",
        "follow_in_private": "To follow a topic, write “follow <topic>” to me in a 1:1 chat: that is where I'll "
                             "tell you.",
        "follow_new_call": "New funding call about “{topic}”",
        "follow_new_event": "New event about “{topic}”",
        "follow_why": "You follow “{topic}”. Write “unfollow {topic}” to stop.",
        "forget_in_private": "To have me erase what I keep about you, write “forget me” to me in a 1:1 chat.",
        "jobs": "Scheduled jobs:",
        "job_line": "{name} · {schedule} · last run: {last} · next run: {next}",
        "job_last": "{at}, {result}",
        "job_unfinished": "{at}, did not finish",
        "job_due": "{at} (due)",
        "job_never": "never",
        "home_jobs": "Scheduled jobs (staff)",
        # Channel digests (bot.digest)
        "digest_title": "Cluster digest · {date}",
        "digest_added": "New funding calls",
        "digest_closing": "Funding calls closing within {days} days",
        "digest_events": "Events in the next {days} days",
        "digest_deadline": "closes {date}",
        "digest_no_deadline": "no deadline given",
        "digest_more": "and {count} more",
        # Deadline reminders (bot.reminders)
        "reminder_button": "⏰ Remind me: {title}",
        "reminder_set": "Noted: I will remind you of “{title}” (deadline {deadline}) in a direct message.",
        "reminder_on_two": "You will hear from me on {first} and on {second}.",
        "reminder_on_one": "You will hear from me on {date}.",
        "reminder_too_soon": "It closes in less than a day: there is no time left for a reminder.",
        "reminder_too_late": "“{title}” closes on {deadline}, in less than a day: too soon for a reminder.",
        "reminder_closed": "“{title}” closed on {deadline}: there is nothing to remind you of.",
        "reminder_unknown": "I can no longer find “{title}” in the knowledge base: no reminder was set.",
        "reminder_due_7": "Reminder: “{title}” closes in 7 days, on {deadline}.",
        "reminder_needs_chat": "To receive it, write “reminders” to me once in a 1:1 chat.",
        "reminders_none": "You have no deadline reminders.",
        "reminders_heading": "Your deadline reminders:",
        "reminders_line": "{title} · deadline {deadline} · next reminder {next}",
        "reminders_line_last": "{title} · deadline {deadline} · no reminder left",
        "reminder_due_1": "Reminder: “{title}” closes tomorrow, {deadline}.",
        "reminder_moved": "The deadline of “{title}” changed from {old} to {new}.",
        "reminder_removed": "“{title}” (deadline {deadline}) was removed from the knowledge base: your reminder "
                            "for it is cancelled.",
        "reminder_call_cancelled": "“{title}” has been cancelled: your reminder for it is cancelled too.",
        "reminder_cancelled_call": "“{title}” (deadline {deadline}) has been cancelled: there is nothing to "
                                   "remind you of.",
    },
    "fr": {
        "forgotten": "C'est fait : j'ai effacé tout ce que je gardais sous votre identifiant. Supprimé :",
        "forgotten_nothing": "Je ne gardais rien sous votre identifiant : il n'y avait rien à effacer.",
        "forgotten_questions": "questions et leurs réponses : {count}",
        "forgotten_feedback": "avis 👍/👎 : {count}",
        "forgotten_follows": "suivis : {count}",
        "forgotten_reminders": "rappels : {count}",
        "follow_added": "Je vous préviendrai quand un appel ou un événement sur « {topic} » sera ajouté.",
        "follow_removed": "Je ne vous préviendrai plus pour « {topic} ».",
        "follow_not_followed": "Vous ne suiviez pas « {topic} ».",
        "follow_list": "Vous suivez ces sujets :",
        "follow_none": "Vous ne suivez aucun sujet. Écrivez « {command}follow IA médicale » pour être prévenu "
                       "quand un appel ou un événement sur ce sujet est ajouté.",
        "follow_usage": "Écrivez « {command}follow <sujet> » ({max} caractères au plus), « {command}unfollow "
                        "<sujet> » ou « {command}following ».",
        "follow_too_many": "Vous suivez déjà {max} sujets : arrêtez d'en suivre un d'abord.",
        "follow_in_private": "Pour suivre un sujet, écrivez-moi « follow <sujet> » dans une conversation privée : "
                             "c'est là que je vous préviendrai.",
        "follow_new_call": "Nouvel appel à projets sur « {topic} »",
        "follow_new_event": "Nouvel événement sur « {topic} »",
        "follow_why": "Vous suivez « {topic} ». Écrivez « unfollow {topic} » pour arrêter.",
        "forget_in_private": "Pour que j'efface ce que je garde sur vous, écrivez-moi « oublie-moi » dans une "
                             "conversation privée.",
        "jobs": "Tâches planifiées :",
        "job_line": "{name} · {schedule} · dernière exécution : {last} · prochaine : {next}",
        "job_last": "{at}, {result}",
        "job_unfinished": "{at}, inachevée",
        "job_due": "{at} (en attente)",
        "job_never": "jamais",
        "home_jobs": "Tâches planifiées (équipe)",
        "digest_title": "Le point du cluster · {date}",
        "digest_added": "Nouveaux appels à projets",
        "digest_closing": "Appels à projets qui ferment dans les {days} jours",
        "digest_events": "Événements des {days} prochains jours",
        "digest_deadline": "clôture le {date}",
        "digest_no_deadline": "sans date limite annoncée",
        "digest_more": "et {count} de plus",
        "reminder_button": "⏰ Me le rappeler : {title}",
        "reminder_set": "C'est noté : je vous rappellerai « {title} » (date limite le {deadline}) en message privé.",
        "reminder_on_two": "Vous aurez de mes nouvelles le {first} et le {second}.",
        "reminder_on_one": "Vous aurez de mes nouvelles le {date}.",
        "reminder_too_soon": "Il ferme dans moins d'un jour : plus le temps pour un rappel.",
        "reminder_too_late": "« {title} » ferme le {deadline}, dans moins d'un jour : trop tard pour un rappel.",
        "reminder_closed": "« {title} » a fermé le {deadline} : il n'y a plus rien à rappeler.",
        "reminder_unknown": "Je ne trouve plus « {title} » dans la base de connaissances : aucun rappel n'a été "
                            "programmé.",
        "reminder_due_7": "Rappel : « {title} » ferme dans 7 jours, le {deadline}.",
        "reminder_needs_chat": "Pour le recevoir, écrivez-moi « rappels » une fois dans une conversation privée.",
        "reminders_none": "Vous n'avez aucun rappel de date limite.",
        "reminders_heading": "Vos rappels de dates limites :",
        "reminders_line": "{title} · date limite le {deadline} · prochain rappel le {next}",
        "reminders_line_last": "{title} · date limite le {deadline} · plus de rappel à venir",
        "reminder_due_1": "Rappel : « {title} » ferme demain, le {deadline}.",
        "reminder_moved": "La date limite de « {title} » a changé : du {old} au {new}.",
        "reminder_removed": "« {title} » (date limite le {deadline}) a été retiré de la base de connaissances : "
                            "votre rappel est annulé.",
        "reminder_call_cancelled": "« {title} » a été annulé : votre rappel est annulé lui aussi.",
        "reminder_cancelled_call": "« {title} » (date limite le {deadline}) a été annulé : il n'y a rien à "
                                   "vous rappeler.",
    },
    "de": {
        "forgotten": "Erledigt: Ich habe alles gelöscht, was ich unter Ihrer Kennung gespeichert hatte. Gelöscht:",
        "forgotten_nothing": "Unter Ihrer Kennung war nichts gespeichert: Es gab nichts zu löschen.",
        "forgotten_questions": "Fragen und ihre Antworten: {count}",
        "forgotten_feedback": "👍/👎-Bewertungen: {count}",
        "forgotten_follows": "Abonnements: {count}",
        "forgotten_reminders": "Erinnerungen: {count}",
        "follow_added": "Ich sage Ihnen Bescheid, wenn ein Förderaufruf oder eine Veranstaltung zu „{topic}“ "
                        "hinzukommt.",
        "follow_removed": "Zu „{topic}“ sage ich Ihnen nicht mehr Bescheid.",
        "follow_not_followed": "Sie folgten „{topic}“ nicht.",
        "follow_list": "Sie folgen diesen Themen:",
        "follow_none": "Sie folgen noch keinem Thema. Schreiben Sie „{command}follow medizinische KI“, um "
                       "benachrichtigt zu werden.",
        "follow_usage": "Schreiben Sie „{command}follow <Thema>“ (höchstens {max} Zeichen), „{command}unfollow "
                        "<Thema>“ oder „{command}following“.",
        "follow_too_many": "Sie folgen bereits {max} Themen: Beenden Sie zuerst eines.",
        "follow_in_private": "Um einem Thema zu folgen, schreiben Sie mir „follow <Thema>“ in einem 1:1-Chat: "
                             "Dort benachrichtige ich Sie.",
        "follow_new_call": "Neuer Förderaufruf zu „{topic}“",
        "follow_new_event": "Neue Veranstaltung zu „{topic}“",
        "follow_why": "Sie folgen „{topic}“. Schreiben Sie „unfollow {topic}“, um aufzuhören.",
        "forget_in_private": "Damit ich lösche, was ich über Sie gespeichert habe, schreiben Sie mir „vergiss mich“ "
                             "in einem 1:1-Chat.",
        "jobs": "Geplante Aufgaben:",
        "job_line": "{name} · {schedule} · letzter Lauf: {last} · nächster Lauf: {next}",
        "job_last": "{at}, {result}",
        "job_unfinished": "{at}, nicht beendet",
        "job_due": "{at} (fällig)",
        "job_never": "nie",
        "home_jobs": "Geplante Aufgaben (Team)",
        "digest_title": "Cluster-Überblick · {date}",
        "digest_added": "Neue Förderaufrufe",
        "digest_closing": "Förderaufrufe mit Frist in den nächsten {days} Tagen",
        "digest_events": "Veranstaltungen in den nächsten {days} Tagen",
        "digest_deadline": "Frist: {date}",
        "digest_no_deadline": "ohne angegebene Frist",
        "digest_more": "und {count} weitere",
        "reminder_button": "⏰ Erinnern: {title}",
        "reminder_set": "Notiert: Ich erinnere Sie per Direktnachricht an „{title}“ (Frist: {deadline}).",
        "reminder_on_two": "Sie hören am {first} und am {second} von mir.",
        "reminder_on_one": "Sie hören am {date} von mir.",
        "reminder_too_soon": "Die Frist endet in weniger als einem Tag: Für eine Erinnerung ist es zu spät.",
        "reminder_too_late": "„{title}“ endet am {deadline}, in weniger als einem Tag: zu spät für eine Erinnerung.",
        "reminder_closed": "„{title}“ wurde am {deadline} geschlossen: Es gibt nichts mehr zu erinnern.",
        "reminder_unknown": "Ich finde „{title}“ nicht mehr in der Wissensbasis: Es wurde keine Erinnerung angelegt.",
        "reminder_due_7": "Erinnerung: „{title}“ endet in 7 Tagen, am {deadline}.",
        "reminder_needs_chat": "Damit sie Sie erreicht, schreiben Sie mir einmal „Erinnerungen“ in einem 1:1-Chat.",
        "reminders_none": "Sie haben keine Fristerinnerungen.",
        "reminders_heading": "Ihre Fristerinnerungen:",
        "reminders_line": "{title} · Frist: {deadline} · nächste Erinnerung am {next}",
        "reminders_line_last": "{title} · Frist: {deadline} · keine Erinnerung mehr",
        "reminder_due_1": "Erinnerung: „{title}“ endet morgen, am {deadline}.",
        "reminder_moved": "Die Frist von „{title}“ hat sich geändert: vom {old} auf den {new}.",
        "reminder_removed": "„{title}“ (Frist: {deadline}) wurde aus der Wissensbasis entfernt: Ihre Erinnerung "
                            "ist aufgehoben.",
        "reminder_call_cancelled": "„{title}“ wurde abgesagt: Ihre Erinnerung ist ebenfalls aufgehoben.",
        "reminder_cancelled_call": "„{title}“ (Frist: {deadline}) wurde abgesagt: es gibt nichts, woran ich "
                                   "Sie erinnern könnte.",
    },
}


def text(key: str, language: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """The sentence `key` in `language` (English when the catalog has no such language), filled with `values`.

    >>> text("forgotten_questions", "fr", count=2)
    'questions et leurs réponses : 2'
    """
    own = _OWN.get(language, {}).get(key) or _OWN[DEFAULT_LANGUAGE].get(key)
    if own is None:
        return message(key, language, **values)
    return own.format(**values) if values else own


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
