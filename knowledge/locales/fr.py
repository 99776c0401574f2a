"""Français : les phrases que lisent les membres, les mots qui trahissent le français et ses mots du temps."""

from __future__ import annotations

NAME = "French"

MESSAGES: dict[str, str] = {
    "month_names": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "first_day": "1er",
    "day_written": "{day} {month} {year}",
    "day_time_written": "{date} à {time}",
    # Answers (knowledge.answering, bot.conversation)
    "frame": "Voici ce qu'indiquent les sources du cluster :",
    "events_upcoming": "Prochains événements",
    "events_past": "Événements passés",
    "events": "Événements",
    "calls_open": "Appels à projets encore ouverts",
    "calls": "Appels à projets",
    "heading_colon": " :",
    "before": "clôture avant le {date}",
    "events_before": "avant le {date}",
    "from_day": "à partir du {date}",
    "between": "du {start} au {end}",
    "closing_on": "clôture le {date}",
    "closing_from": "clôture à partir du {date}",
    "closing_between": "clôture entre le {start} et le {end}",
    "on_day": "le {date}",
    "closed": "clôturé le {date}",
    "open_until": "ouvert jusqu'au {date}",
    "past_event": "cet événement a eu lieu le {date}",
    "upcoming_event": "le {date}",
    "cancelled_call": "annulé (la date limite était le {date})",
    "cancelled_event": "annulé (il était prévu le {date})",
    "nothing": "Je n'ai pas trouvé cette information dans la base de connaissances du cluster et je préfère "
               "ne pas improviser. Merci de contacter {contact}.",
    "nothing_listed": "Je n'ai trouvé aucun {what} dans la base de connaissances du cluster. Pour toute "
                      "autre demande, contactez {contact}.",
    "what_event": "événement correspondant",
    "what_funding_call": "appel à projets ouvert correspondant",
    "only_cancelled": "aucun ; ceux-ci ont été annulés :",
    "next_after": "Le suivant",
    "none_match": "rien ne correspond à votre question.",
    "unavailable": "La base de connaissances est momentanément indisponible, merci de réessayer dans "
                   "quelques minutes.",
    "other_language": "(La source est dans une autre langue.)",
    "other_language_named": "(La source est en {language}.)",
    "sources_language_named": "(Les sources sont en {language}.)",
    "some_sources_language_named": "(Certaines de ces sources sont en {language}.)",
    "some_sources_other_language": "(Certaines de ces sources sont dans d'autres langues.)",
    "sources_other_languages": "(Les sources sont dans d'autres langues.)",
    "language_en": "anglais",
    "language_fr": "français",
    "language_de": "allemand",
    "small_talk_greeting": "Bonjour ! Je réponds aux questions sur les appels à projets, les événements et les "
                           "services du cluster, à partir de ses documents, sources à l'appui. Par exemple : « Quels "
                           "appels à projets clôturent avant mars ? » ou « Quand a lieu le prochain atelier IA ? »",
    "small_talk_thanks": "Avec plaisir ! N'hésitez pas pour toute autre question sur les appels, les événements "
                         "et les services du cluster.",
    "also_relevant": "À voir aussi :",
    "llm_failed": "(L'assistant de rédaction est indisponible : voici les passages pertinents.)",
    "llm_unchecked": "(La réponse générée n'a pas pu être vérifiée par rapport à ses sources : voici les "
                     "passages pertinents.)",
    "llm_language": "(La réponse générée n'était pas dans la langue de votre question : voici les passages "
                    "pertinents.)",
    # The chat model's instructions (knowledge.chat_answering), written in the member's language for the retry
    # when a first answer came back in another language. Not shown to members.
    "llm_prompt": "Tu es l'assistant du service aux adhérents d'un cluster d'innovation en santé.\n"
                  "Réponds en français à la question de l'adhérent à partir des passages numérotés ci-dessous et "
                  "de rien d'autre, en une à trois phrases complètes qui disent de quoi elles parlent. Reprends "
                  "les mots des passages. Termine chaque phrase par le numéro du passage dont elle vient, entre "
                  "crochets, comme [1]. N'écris jamais une date, une échéance, un montant ou un nom absent des "
                  "passages. Si les passages ne contiennent pas la réponse, réponds exactement : NO_ANSWER.\n"
                  "Nous sommes le {today}. Un appel dont la date limite est passée est clôturé ; un événement "
                  "terminé avant aujourd'hui est passé. Écris uniquement en français.\n\n"
                  "{passages}",
    # Chat renderers (bot.slack.render, bot.teams.render)
    "source_deadline": "date limite",
    "source_start": "le",
    "status_closed": "clôturé",
    "status_open": "ouvert",
    "status_past": "passé",
    "status_cancelled": "annulé",
    "status_upcoming": "à venir",
    "sources_heading": "Sources",
    "feedback_up": "Utile",
    "feedback_down": "Pas utile",
    # Labels of the facts written into calendar and table entries, in the entry's language (loaders)
    "fact_reference": "Référence",
    "fact_funder": "Financeur",
    "fact_opens": "Ouverture",
    "fact_deadline": "Date limite",
    "fact_budget": "Budget",
    "fact_eligibility": "Éligibilité",
    "fact_start": "Début",
    "fact_end": "Fin",
    "fact_location": "Lieu",
    "fact_registration_url": "Inscription",
    "fact_topics": "Thèmes",
    "fact_status": "Statut",
    # Slack's App Home (bot.slack.render.home_view)
    "home_intro": "Posez-moi vos questions sur les appels à projets, les événements, les programmes et les "
                  "services du cluster, en français ou en anglais : mentionnez-moi dans un canal, écrivez-moi "
                  "ici ou utilisez `{ask_command}` pour une réponse privée. Chaque réponse renvoie à ses sources.",
    "home_next_events": "Prochains événements",
    "home_no_event": "Aucun événement à venir.",
    "home_calls_closing": "Appels à projets clôturant bientôt",
    "home_no_call": "Aucun appel ouvert.",
    "home_index_status": "État de l'index (équipe)",
    "home_index_summary": "{sources} sources, {chunks} extraits. Dernière ingestion : {finished}, {failed} en échec.",
    "home_never": "jamais",
    "home_gaps": "Lacunes (équipe)",
    "home_no_gaps": "Aucune.",
    # The bot's own sentences (bot.messages)
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
}

# Accents and elisions kept, a few domain words such as "appel" added (`knowledge.language`).
TELLING_WORDS = """le la les un une des du de et est sont pour par sur dans avec au aux ce cette ces qui que quoi quel
    quelle quels quelles où comment pourquoi quand ne pas plus nous vous ils elles son sa ses leur leurs mon ma
    mes notre nos votre vos été être avoir peut doit faut aussi mais ou donc car si entre chez très tout tous
    toutes après avant depuis lors dont même ainsi selon je tu il elle on y en l' d' qu' n' s' c' j' m'
    appel appels projets candidature date limite santé prochain prochaine atelier"""
ACCENTS = "éèêàçùûôîœ"

# Folded to ASCII lower case, apostrophes as spaces; regular-expression alternatives (`knowledge.time_scope`).
MONTHS: dict[str, int] = {
    "janvier": 1, "janv": 1, "fevrier": 2, "fev": 2, "mars": 3, "avril": 4, "avr": 4, "mai": 5, "juin": 6,
    "juillet": 7, "juil": 7, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11, "decembre": 12,
}
TIME_WORDS: dict[str, list[str]] = {
    "event": [r"evenements?", "atelier", "ateliers", r"webinaires?", "sommet", r"rencontres?", r"salons?",
              r"journees?", r"matinales?", "cafe", r"formations?", "calendrier", "quand a lieu", "quand aura lieu",
              "a quelle date",
              # kinds of events that also say what the event is about: not GENERIC_WORDS ("le prochain hackathon")
              r"soirees?", r"petits?[ -]dejeuners?", r"hackathons?", r"seminaires?", r"colloques?", "congres",
              r"permanences?", r"tables? rondes?", "apero", r"aperitifs?", r"forums?",
              r"assemblees? generales?", r"conferences?"],
    "call": [r"appels?", "aap", r"financements?", r"subventions?", "date limite", "cloture", r"clotures?",
             "cloturent", "concours"],
    "call_noun": [r"appels?", "aap"],
    "upcoming": [r"prochains?", r"prochaines?", "a venir", "bientot", r"futurs?", r"prevus?"],
    "when": ["quand", r"quelles? dates?", "quelle heure", "quel jour", "quels jours"],
    "price": [r"combien(?! d)", "prix", r"tarifs?", r"couts?", r"payante?s?", r"gratuite?s?", "payer", "frais",
              r"montants?", r"cotisations?"],
    # at the start only: "une entreprise qui peut ..." is a relative clause
    "who": [r"^(?:a |pour )?qui (?:peut|peuvent|doit|doivent|est concernee?s?|sont concernee?s?)", "pour qui",
            r"eligibilite", r"conditions d eligibilite", r"beneficiaires?"],
    "how": [r"^comment (?!period\b|on\b)",
            r"comment (?:faire|adherer|candidater|postuler|s inscrire|obtenir|proceder)"],
    "contact": [r"contacts?", "contacter"],
    "amount": ["eur", "euros?", "chf", r"gratuite?s?", r"offerte?s?", "sans frais", "ht", "ttc"],
    "open": [r"ouverts?", r"ouvertes?", "en cours", r"encore ouverts?"],
    # Bare "dernier" is left out: "le dernier jour pour candidater" is about the future.
    "past": [r"precedente?s?", r"(?<!\bse )passes?", r"passees?", "l annee derniere", "le mois dernier",
             "la semaine derniere"],
    "before": ["avant", "d ici", "jusqu au", "jusqu a", "jusqu en", "au plus tard en", "au plus tard"],
    "article": ["le", "la"],
    "end_of": ["fin", r"la fin d?e?"],
    "after": ["apres", r"a partir d?e?"],  # and "dès mars", read as "à partir de mars" (folded, "dès" is "des")
    "within": ["en", "pendant", r"du mois d?e?"],
    "this_month": ["ce mois", "du mois"],
    "next_month": ["le mois prochain", "du mois prochain"],
    "this_week": ["cette semaine"],
    "next_week": ["la semaine prochaine", "semaine prochaine"],
    "today": ["aujourd hui"],
    "tomorrow": ["demain"],
    "this_year": ["cette annee"],
    "week_of": ["la semaine du", "semaine du"],
    "weekend_of": [r"le week[- ]?end du", r"week[- ]?end du"],
    "next_weekday": [],  # "mardi prochain": the weekday first, then "prochain" (`knowledge.time_scope`)
}
GENERIC_WORDS = """evenement evenements atelier ateliers webinaire sommet rencontre rencontres salon salons
    journee journees calendrier appel appels projet projets aap financement financements subvention subventions date
    limite cloture cloturent concours prochain prochaine prochains prochaines venir bientot ouvert ouverts
    ouverte ouvertes encore cours passe passes quand lieu quel quels quelle quelles mois semaine annee demain
    avant apres ce cette liste truc trucs chose choses quelque ferme ferment fermer fermeture langue langues"""
# The kinds of event a listing prefers when some of its items are of them ("Any workshops in June?": the workshops,
# not the drinks; every event of the month when none is), as plain words, with the kind they name in every language.
KIND_NOUNS = {"atelier": "workshop", "ateliers": "workshop", "webinaire": "webinar", "webinaires": "webinar",
              "sommet": "summit", "sommets": "summit", "conference": "conference", "conferences": "conference",
              "rencontre": "meetup", "rencontres": "meetup", "formation": "training", "formations": "training"}

# How a chat model says it cannot answer without writing NO_ANSWER (`knowledge.grounding.says_no_answer`): regular
# expressions over folded text (ASCII lower case, "ß" as "ss", apostrophes kept).
NO_ANSWER_WORDS: list[str] = [
    r"\bje ne (?:le )?sais pas\b",
    r"\bne (?:contiennent|contient|mentionnent|mentionne|precisent|precise|indiquent|indique|disent|dit|"
    r"fournissent|fournit|donnent|donne|permettent|permet|abordent|aborde|traitent|traite)\b[^.]{0,30}\b(?:pas|aucune?)\b",
    r"\b(?:aucune|pas d'|pas de) (?:information|informations|indication|precision|mention)\b",
    r"\bje n'ai (?:pas|rien) trouve\b",
    r"\bje ne (?:peux|suis) pas (?:en mesure de )?(?:repondre|trouver|dire|preciser)\b",
    r"\bn'(?:est|sont) pas (?:mentionnee?s?|precisee?s?|indiquee?s?) dans\b",
]
# Numbers written as words in passages ("pendant deux ans"), for `knowledge.grounding`.
NUMBER_WORDS: dict[str, int] = {
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8, "neuf": 9,
    "dix": 10, "onze": 11, "douze": 12, "vingt": 20, "trente": 30, "cinquante": 50, "cent": 100,
}

# A question read with the one before it in a thread (see `en.FOLLOW_UP_WORDS`).
FOLLOW_UP_WORDS: dict[str, list[str]] = {
    "opens": ["et", "et pour", "et si", "aussi", "pareil pour", "sinon", "alors", "ok et", "du coup"],
    "refers": ["ca", "cela", "celui ci", "celle ci", "celui la", "celle la", "ceux ci", "y aller", "la bas"],
}

SMALL_TALK: dict[str, list[str]] = {
    "greeting": ["bonjour", "salut", "bonsoir", "coucou", "hello", "bonjour a tous"],
    "thanks": ["merci", "merci beaucoup", "merci bien", "super", "parfait", "super merci", "ok merci", "d accord",
               "au revoir", "bonne journee", "top", "genial", "parfait merci"],
}

# Day names (`knowledge.grounding`): never a proper name to check.
WEEKDAYS = "lundi mardi mercredi jeudi vendredi samedi dimanche"

# Acronyms that differ from one language to the next, by what they stand for, keyed as in `en.ACRONYMS`.
ACRONYMS: dict[str, str] = {"artificial intelligence": "IA", "small and medium enterprises": "PME",
                            "data protection regulation": "RGPD", "european union": "UE", "value added tax": "TVA",
                            "human resources": "RH"}
