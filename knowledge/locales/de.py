"""Deutsch: die Sätze, die Mitglieder lesen, die Wörter, an denen man Deutsch erkennt, und deutsche Zeitwörter."""

from __future__ import annotations

NAME = "German"

MESSAGES: dict[str, str] = {
    "month_names": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "first_day": "1",
    "day_written": "{day}. {month} {year}",
    "day_time_written": "{date}, {time} Uhr",
    # Answers (knowledge.answering, bot.conversation)
    "frame": "Das sagen die Quellen des Clusters:",
    "events_upcoming": "Kommende Veranstaltungen",
    "events_past": "Vergangene Veranstaltungen",
    "events": "Veranstaltungen",
    "calls_open": "Noch offene Förderaufrufe",
    "calls": "Förderaufrufe",
    "heading_colon": ":",
    "before": "Frist vor dem {date}",
    "events_before": "vor dem {date}",
    "from_day": "ab dem {date}",
    "between": "vom {start} bis {end}",
    "closing_on": "Frist am {date}",
    "closing_from": "Frist ab dem {date}",
    "closing_between": "Frist zwischen dem {start} und dem {end}",
    "on_day": "am {date}",
    "closed": "geschlossen am {date}",
    "open_until": "offen bis {date}",
    "past_event": "diese Veranstaltung fand am {date} statt",
    "upcoming_event": "am {date}",
    "cancelled_call": "abgesagt (die Frist war der {date})",
    "cancelled_event": "abgesagt (geplant war der {date})",
    "nothing": "Dazu finde ich nichts in der Wissensdatenbank des Clusters, und ich möchte nicht raten. "
               "Bitte wenden Sie sich an {contact}.",
    "nothing_listed": "Ich habe in der Wissensdatenbank des Clusters {what} gefunden. Für alles, was dort "
                      "nicht aufgeführt ist, wenden Sie sich bitte an {contact}.",
    "what_event": "keine passende Veranstaltung",  # the article agrees with the noun: keine (f.), keinen (m.)
    "what_funding_call": "keinen passenden offenen Förderaufruf",
    "only_cancelled": "keine; diese wurden abgesagt:",
    "next_after": "Als Nächstes danach",
    "none_match": "nichts passt zu Ihrer Frage.",
    "unavailable": "Die Wissensdatenbank ist vorübergehend nicht erreichbar, bitte versuchen Sie es in ein paar "
                   "Minuten erneut.",
    "other_language": "(Die Quelle ist in einer anderen Sprache.)",
    "other_language_named": "(Die Quelle ist auf {language}.)",
    "sources_language_named": "(Die Quellen sind auf {language}.)",
    "some_sources_language_named": "(Einige dieser Quellen sind auf {language}.)",
    "some_sources_other_language": "(Einige dieser Quellen sind in anderen Sprachen.)",
    "sources_other_languages": "(Die Quellen sind in anderen Sprachen.)",
    "language_en": "Englisch",
    "language_fr": "Französisch",
    "language_de": "Deutsch",
    "small_talk_greeting": "Hallo! Ich beantworte Fragen zu Förderaufrufen, Veranstaltungen und Leistungen des "
                           "Clusters, aus seinen Dokumenten und mit Quellen. Zum Beispiel: „Welche Förderaufrufe "
                           "enden vor März?“ oder „Wann ist der nächste KI-Workshop?“",
    "small_talk_thanks": "Gern geschehen! Fragen Sie mich gern weiter zu Förderaufrufen, Veranstaltungen und "
                         "Leistungen des Clusters.",
    "also_relevant": "Siehe auch:",
    "llm_failed": "(Der Schreibassistent war nicht erreichbar, daher hier die relevanten Passagen.)",
    "llm_unchecked": "(Die erzeugte Antwort ließ sich nicht anhand ihrer Quellen prüfen, daher hier die "
                     "relevanten Passagen.)",
    "llm_language": "(Die erzeugte Antwort war nicht in der Sprache Ihrer Frage, daher hier die relevanten "
                    "Passagen.)",
    # The chat model's instructions (knowledge.chat_answering), written in the member's language for the retry
    # when a first answer came back in another language. Not shown to members.
    "llm_prompt": "Du bist der Mitgliederservice-Assistent eines Innovationsclusters im Gesundheitswesen.\n"
                  "Beantworte die Frage des Mitglieds auf Deutsch, nur anhand der nummerierten Passagen unten, in "
                  "ein bis drei vollständigen Sätzen, die sagen, worum es geht. Verwende die Worte der Passagen. "
                  "Beende jeden Satz mit der Nummer der Passage, aus der er stammt, in eckigen Klammern, etwa [1]. "
                  "Schreibe nie ein Datum, eine Frist, einen Betrag oder einen Namen, der nicht in den Passagen "
                  "steht. Wenn die Passagen die Antwort nicht enthalten, antworte genau: NO_ANSWER.\n"
                  "Heute ist der {today}. Ein Aufruf, dessen Frist vor heute lag, ist geschlossen; eine "
                  "Veranstaltung, die vor heute endete, ist vergangen. Schreibe nur auf Deutsch.\n\n{passages}",
    # Chat renderers (bot.slack.render, bot.teams.render)
    "source_deadline": "Frist",
    "source_start": "am",
    "status_closed": "geschlossen",
    "status_open": "offen",
    "status_past": "vergangen",
    "status_cancelled": "abgesagt",
    "status_upcoming": "bevorstehend",
    "sources_heading": "Quellen",
    "feedback_up": "Hilfreich",
    "feedback_down": "Nicht hilfreich",
    # Labels of the facts written into calendar and table entries, in the entry's language (loaders)
    "fact_reference": "Referenz",
    "fact_funder": "Fördergeber",
    "fact_opens": "Öffnet",
    "fact_deadline": "Frist",
    "fact_budget": "Budget",
    "fact_eligibility": "Förderfähigkeit",
    "fact_start": "Beginn",
    "fact_end": "Ende",
    "fact_location": "Ort",
    "fact_registration_url": "Anmeldung",
    "fact_topics": "Themen",
    "fact_status": "Status",
    # Slack's App Home (bot.slack.render.home_view)
    "home_intro": "Fragen Sie mich nach Förderaufrufen, Veranstaltungen, Programmen und Leistungen des Clusters, "
                  "auf Deutsch, Französisch oder Englisch: erwähnen Sie mich in einem Kanal, schreiben Sie mir hier "
                  "oder nutzen Sie `{ask_command}` für eine private Antwort. Jede Antwort nennt ihre Quellen.",
    "home_next_events": "Nächste Veranstaltungen",
    "home_no_event": "Keine bevorstehende Veranstaltung.",
    "home_calls_closing": "Bald schließende Förderaufrufe",
    "home_no_call": "Kein offener Aufruf.",
    "home_index_status": "Indexstatus (Team)",
    "home_index_summary": "{sources} Quellen, {chunks} Abschnitte. "
        "Letztes Einlesen: {finished}, {failed} fehlgeschlagen.",
    "home_never": "nie",
    "home_gaps": "Wissenslücken (Team)",
    "home_no_gaps": "Keine.",
    # The bot's own sentences (bot.messages)
    "apology": "Entschuldigung, beim Antworten ist ein Fehler aufgetreten. Das Team ist informiert; bitte "
               "versuchen Sie es später erneut.",
    "thanks_helpful": "Danke für Ihre Rückmeldung!",
    "thanks_unhelpful": "Danke — das Team sieht sich diese Antwort an.",
    "refusal": "Entschuldigung, dieser Befehl ist dem Cluster-Team vorbehalten.",
    "refusal_ask_hint": "Entschuldigung, dieser Befehl ist dem Cluster-Team vorbehalten. "
                        "Fragen Sie mich alles mit {ask_command}!",
    "ask_usage": "Verwendung: {command} Ihre Frage",
    "staff_usage": "Verwendung: {command} {actions}",
    "reingest_started": "Einlesen gestartet…",
    "reingest_running": "Es läuft bereits ein Einlesen.",
    "reingest_failed": "Das Einlesen ist fehlgeschlagen; die Details stehen im Log des Bots.",
    "no_gaps": "Keine Wissenslücke erfasst.",
    "greeting": "Hallo! Fragen Sie mich nach Förderaufrufen, Veranstaltungen und Leistungen des Clusters.",
    "thinking": "denkt nach…",
}

# Telling words only: none that English or French also use ("die", "in", "was", "es", "am" are left out or
# kept only where the other languages never write them).
TELLING_WORDS = """der das und ist sind nicht ein eine einen einem einer eines für über wie wann welche welcher
    kostet kosten findet statt gilt welches welchen wo wer warum wieso ich mich mir sich mit von vom zum zur auf
    bei nach oder aber auch noch nur
    wir sie ihr ihre gibt kann können muss müssen werden wird dem den im zu bis vor seit diese dieser diesen
    dieses nächste nächsten nächster kommende kommenden offen offene offenen bewerbe bewerben veranstaltung
    veranstaltungen förderaufruf förderaufrufe ausschreibung ausschreibungen frist fristen antrag"""
ACCENTS = "äöüß"

# Folded to ASCII lower case ("März" is "marz"); regular-expression alternatives (`knowledge.time_scope`).
MONTHS: dict[str, int] = {
    "januar": 1, "februar": 2, "marz": 3, "maerz": 3, "juni": 6, "juli": 7, "oktober": 10, "okt": 10,
    "dezember": 12, "dez": 12,
}
TIME_WORDS: dict[str, list[str]] = {
    "event": [r"veranstaltung(?:en)?", r"workshops?", r"konferenz(?:en)?", r"schulung(?:en)?",
              "termin", r"treffen", "wann ist", "wann findet",
              # kinds of events that also say what the event is about: not GENERIC_WORDS ("der nächste Hackathon")
              r"hackathons?", r"seminare?", r"stammtisch(?:e)?", r"fruhstucke?", r"vortrage?",
              r"vortrag", r"tagung(?:en)?", r"kongress(?:e)?", r"sprechstunden?", r"empfange?", r"webinare?",
              "gipfel", r"meetups?", r"messen?", r"infotage?"],
    "call": [r"forderaufrufe?", r"aufrufe?", r"ausschreibung(?:en)?", r"forderprogramme?", r"forderung(?:en)?",
             r"fristen", "frist", r"bewerbungsfrist(?:en)?", r"einreichungsfrist(?:en)?"],
    "call_noun": [r"forderaufrufe?", r"aufrufe?", r"ausschreibung(?:en)?"],
    "when": ["wann", "um wie viel uhr", "welches datum", "welchem tag", "welchen tag", "ab wann", "bis wann"],
    "price": ["wie viel", "wieviel", "wie hoch", "wie teuer", "teuer", "kostet", "kosten", r"preise?",
              r"gebuhr(?:en)?", "kostenlos", "kostenpflichtig", "bezahlen"],
    "who": [r"wer (?:kann|darf|ist berechtigt)", "fur wen", r"teilnahmeberechtigt\w*", r"antragsberechtigt\w*",
            "zielgruppe"],
    "how": [r"wie (?:kann|konnen|werde|werden|melde|bewerbe|beantrage|funktioniert)"],
    "contact": ["kontakt", "kontaktieren", r"ansprechpartner(?:in)?"],
    "amount": ["eur", "euro", "chf", "kostenlos", "kostenfrei", "gebuhrenfrei", "unentgeltlich"],
    "upcoming": [r"nachste[nrs]?", r"kommende[nrs]?", r"bevorstehende[nrs]?", "demnachst", r"geplante[nrs]?",
                 r"zukunftige[nrs]?", "bald", "in kurze"],
    "open": [r"offen(?:e[nrs]?)?", "noch offen", r"laufende[nrs]?", "laufen noch", "noch laufen"],
    "past": [r"vergangene[nrs]?", r"fruhere[nrs]?", "letzte woche", "letzten monat", "letztes jahr",
             "letzten jahr"],
    "before": ["vor", "bis zum", "bis", "spatestens"],
    "article": ["dem", "zum"],
    "end_of": ["ende"],
    "after": ["nach", "ab"],
    "within": ["im", "wahrend"],
    "this_month": ["diesen monat", "dieser monat", "in diesem monat", "im laufenden monat"],
    "next_month": [r"nachste[nr]? monat", "kommenden monat"],
    "this_week": ["diese woche", "dieser woche"],
    "next_week": [r"nachste[nr]? woche", "kommende woche", "kommenden woche"],
    "today": ["heute"],
    "tomorrow": ["morgen"],
    "this_year": ["dieses jahr", "diesem jahr"],
    "week_of": ["die woche vom", "der woche vom", "woche vom"],
    "weekend_of": ["das wochenende vom", "am wochenende vom", "wochenende vom"],
    "next_weekday": [r"nachsten?", "kommenden?", "am"],
}
# Function words and question verbs ("für", "zur", "kostet", "findet statt"): never what a question is about.
# English and French ones are the keyword search's stop words (`knowledge.text.STOP_WORDS`); German ones are
# only left out of a question's topic words (`knowledge.time_scope.topical_words`), not out of the index.
FUNCTION_WORDS = """ab der die das den dem des ein eine einen einem einer eines und oder aber für mit von vom zu zum
    zur bei beim auf aus nach über unter vor hinter neben zwischen durch gegen ohne um an am im in ins ist sind
    war waren wird werden wurde kann können muss müssen soll sollen darf dürfen möchte gibt es wie wo wann was
    wer warum welche welcher welches welchen ich du er sie wir ihr mich mir sich uns euch mein meine unser unsere
    ihre sein seine nicht kein keine noch nur auch schon sehr mehr viel viele findet statt kostet kosten hoch
    lange bitte gilt man etwas los kommt kommen geht gehen dreht drehen beginnt beginnen stattfinden
    kostenlos kostenfrei kostenpflichtig gratis bald finden bewerbe bewerben beantrage beantragen anmelden
    melde"""
GENERIC_WORDS = """veranstaltung veranstaltungen konferenz konferenzen schulung schulungen
    termin treffen forderaufruf forderaufrufe aufruf aufrufe ausschreibung ausschreibungen forderprogramm
    forderung forderungen frist fristen nachste nachsten nachster kommende kommenden bevorstehende geplante
    offen offene offenen noch laufende laufen vergangene wann welche welcher welches sind ist gibt der das monat woche
    jahr heute morgen vor nach bis diesen dieser endet enden schliesst schliessen lauft ablauf sprache sprachen"""
# The kinds of event a listing prefers when some of its items are of them ("Any workshops in June?": the workshops,
# not the drinks; every event of the month when none is), as plain words, with the kind they name in every language.
KIND_NOUNS = {"workshop": "workshop", "workshops": "workshop", "webinar": "webinar", "webinare": "webinar",
              "gipfel": "summit", "konferenz": "conference", "konferenzen": "conference", "meetup": "meetup",
              "schulung": "training", "schulungen": "training"}

# How a chat model says it cannot answer without writing NO_ANSWER (`knowledge.grounding.says_no_answer`): regular
# expressions over folded text (ASCII lower case, "ß" as "ss", apostrophes kept).
NO_ANSWER_WORDS: list[str] = [
    r"\bich weiss (?:es |das )?nicht\b",
    r"\b(?:enthalten|enthalt|nennen|nennt|erwahnen|erwahnt|beantworten|beantwortet|sagen|sagt)\b[^.]{0,30}"
    r"\b(?:keine|keinen|nicht|nichts)\b",
    r"\bkeine (?:informationen|information|angaben|angabe|hinweise)\b",
    r"\b(?:kann|konnen) (?:ich )?(?:das |dies |die frage )?nicht (?:beantworten|sagen|finden)\b",
    r"\bnicht (?:erwahnt|angegeben|enthalten|genannt|aufgefuhrt)\b",
]
# Numbers written as words in passages ("fur zwei Jahre"), for `knowledge.grounding`.
NUMBER_WORDS: dict[str, int] = {
    "ein": 1, "eine": 1, "eins": 1, "zwei": 2, "drei": 3, "vier": 4, "funf": 5, "sechs": 6, "sieben": 7,
    "acht": 8, "neun": 9, "zehn": 10, "elf": 11, "zwolf": 12, "zwanzig": 20, "dreissig": 30, "funfzig": 50,
    "hundert": 100,
}

# A question read with the one before it in a thread (see `en.FOLLOW_UP_WORDS`).
FOLLOW_UP_WORDS: dict[str, list[str]] = {
    "opens": ["und", "was ist mit", "wie ist es mit", "auch", "dann", "ok und", "also"],
    "refers": ["dort", "dorthin", "dafur", "dazu", "davon", "dahin"],  # not "es": "Gibt es ...?" stands alone
}

SMALL_TALK: dict[str, list[str]] = {
    "greeting": ["hallo", "guten tag", "guten morgen", "guten abend", "moin", "servus", "gruss gott", "hi"],
    "thanks": ["danke", "vielen dank", "danke schon", "dankeschon", "super", "perfekt", "alles klar", "ok danke",
               "tschuss", "auf wiedersehen", "besten dank", "prima"],
}

# Day names (`knowledge.grounding`): never a proper name to check.
WEEKDAYS = "montag dienstag mittwoch donnerstag freitag samstag sonntag"

# Acronyms that differ from one language to the next, by what they stand for, keyed as in `en.ACRONYMS`.
ACRONYMS: dict[str, str] = {"artificial intelligence": "KI", "small and medium enterprises": "KMU",
                            "data protection regulation": "DSGVO", "european union": "EU", "value added tax": "MwSt",
                            "human resources": "HR"}
