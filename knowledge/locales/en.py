"""English: every sentence members read, the words that tell English text, and English time words."""

from __future__ import annotations

NAME = "English"

MESSAGES: dict[str, str] = {
    "month_names": "January February March April May June July August September October November December",
    "first_day": "1",  # how the first day of a month is written
    "day_written": "{day} {month} {year}",
    "day_time_written": "{date}, {time}",
    # Answers (knowledge.answering, bot.conversation)
    "frame": "Here is what the cluster's sources say:",
    "events_upcoming": "Upcoming events",
    "events_past": "Past events",
    "events": "Events",
    "calls_open": "Funding calls still open",
    "calls": "Funding calls",
    "heading_colon": ":",
    "before": "closing before {date}",
    "events_before": "before {date}",
    "from_day": "from {date}",
    "between": "from {start} to {end}",
    "closing_on": "closing on {date}",
    "closing_from": "closing from {date}",
    "closing_between": "closing between {start} and {end}",
    "on_day": "on {date}",
    "closed": "closed on {date}",
    "open_until": "open until {date}",
    "past_event": "this event took place on {date}",
    "upcoming_event": "on {date}",
    "cancelled_call": "cancelled (its deadline was {date})",
    "cancelled_event": "cancelled (it was planned on {date})",
    "nothing": "I could not find this in the cluster's knowledge base, so I would rather not guess. "
               "Please ask {contact}.",
    "nothing_listed": "I found no {what} in the cluster's knowledge base. For anything not listed there, "
                      "please ask {contact}.",
    "what_event": "matching event",
    "what_funding_call": "matching open funding call",
    "only_cancelled": "none; these were cancelled:",
    "next_after": "The next one after that",
    "none_match": "nothing matches your question.",
    "unavailable": "The knowledge base is temporarily unavailable, please try again in a few minutes.",
    "other_language": "(The source is in another language.)",
    "other_language_named": "(The source is in {language}.)",
    "sources_language_named": "(The sources are in {language}.)",
    "some_sources_language_named": "(Some of these sources are in {language}.)",
    "some_sources_other_language": "(Some of these sources are in other languages.)",
    "sources_other_languages": "(The sources are in other languages.)",
    "language_en": "English",
    "language_fr": "French",
    "language_de": "German",
    "also_relevant": "Also on this:",
    "small_talk_greeting": "Hello! I answer questions about the cluster's funding calls, events and services, from "
                           "its documents, with the sources. For example: \"Which funding calls close before "
                           "March?\" or \"When is the next AI workshop?\"",
    "small_talk_thanks": "You're welcome! Ask me anything else about the cluster's calls, events and services.",
    "llm_failed": "(The writing assistant was unavailable, so here are the relevant passages.)",
    "llm_unchecked": "(The generated answer could not be checked against its sources, so here are the "
                     "relevant passages.)",
    "llm_language": "(The generated answer was not in the language of your question, so here are the relevant "
                    "passages.)",
    # The chat model's instructions (knowledge.chat_answering), written in the member's language for the retry
    # when a first answer came back in another language. Not shown to members.
    "llm_prompt": "You are the member-services assistant of a health-innovation cluster.\n"
                  "Answer the member's question in English, from the numbered passages below and from nothing "
                  "else, in one to three complete sentences that say what they are about. Use the passages' own "
                  "words. End every sentence with the number of the passage it comes from, in square brackets, "
                  "like [1]. Never write a date, a deadline, an amount or a name that is not in the passages. If "
                  "the passages do not contain the answer, reply exactly: NO_ANSWER.\n"
                  "Today is {today}. A call whose deadline is before today is closed; an event that ended before "
                  "today is past. Write in English only.\n\n{passages}",
    # Chat renderers (bot.slack.render, bot.teams.render)
    "source_deadline": "deadline",
    "source_start": "on",
    "status_closed": "closed",
    "status_open": "open",
    "status_past": "past",
    "status_cancelled": "cancelled",
    "status_upcoming": "upcoming",
    "sources_heading": "Sources",
    "feedback_up": "Helpful",
    "feedback_down": "Not helpful",
    # Labels of the facts written into calendar and table entries, in the entry's language (loaders)
    "fact_reference": "Reference",
    "fact_funder": "Funder",
    "fact_opens": "Opens",
    "fact_deadline": "Deadline",
    "fact_budget": "Budget",
    "fact_eligibility": "Eligibility",
    "fact_start": "Starts",
    "fact_end": "Ends",
    "fact_location": "Location",
    "fact_registration_url": "Registration",
    "fact_topics": "Topics",
    "fact_status": "Status",
    # Slack's App Home (bot.slack.render.home_view)
    "home_intro": "Ask me about funding calls, events, programmes and cluster services, in French "
                  "or English: mention me in a channel, write to me here, or "
                  "use `{ask_command}` for a private answer. Every answer links to its sources.",
    "home_next_events": "Next events",
    "home_no_event": "No upcoming event.",
    "home_calls_closing": "Funding calls closing soon",
    "home_no_call": "No open call.",
    "home_index_status": "Index status (staff)",
    "home_index_summary": "{sources} sources, {chunks} chunks. Last ingestion: {finished}, {failed} failed.",
    "home_never": "never",
    "home_gaps": "Knowledge gaps (staff)",
    "home_no_gaps": "None.",
    # The bot's own sentences (bot.messages)
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
}

# Words whose presence says "English" (`knowledge.language`): telling words, not stop words.
TELLING_WORDS = """the a an of and is are to for by on in with at this that these those which who what where how why
    when not no more we you they he she it its his her their our your be been being have has had can
    must should will would also but or so if between very all after before since from as such which
    i do does did than there here about into over call calls deadline health next workshop apply"""
ACCENTS = ""

# Time words of questions (`knowledge.time_scope`), folded to ASCII lower case with apostrophes as spaces.
# Each entry is a list of regular-expression alternatives.
MONTHS: dict[str, int] = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}
TIME_WORDS: dict[str, list[str]] = {
    "event": [r"events?", r"workshops?", r"webinars?", "summit", r"conferences?", r"meetups?", r"trainings?",
              r"sessions?", "agenda", "calendar", "when is", "when does",
              # kinds of events that also say what the event is about: not GENERIC_WORDS ("the next hackathon")
              r"hackathons?", r"fairs?", r"breakfasts?", r"receptions?", "drinks", r"afterworks?",
              r"forums?", r"seminars?", "symposium", r"congress(?:es)?", r"masterclass(?:es)?", r"office hours?",
              r"open days?", r"demo days?", r"round ?tables?", r"pitch nights?", r"lunch (?:and|&) learn"],
    "call": [r"calls?", "funding", r"grants?", r"deadlines?", r"closes?", "closing", r"tenders?"],
    "call_noun": [r"calls?"],
    "upcoming": ["upcoming", "next", "coming", "future", "soon", "planned"],
    # The question asks for a date or a time ("When is the Demo Day?"): its status line answers.
    "when": ["when", "what time", "what date", "which date", "what day", "which day", "how late", "how early"],
    # ... or for a price ("How much is the workshop?", "Is it free?"): the sentences giving one answer.
    "price": ["how much", r"prices?", r"costs?", r"fees?", "free", "pay", "paid", "charge", "charged"],
    # What a sentence says a price with: a currency beside a number, or a word for free.
    "amount": [r"eur", "euros?", "chf", "usd", "gbp", "free", "no charge", "at no cost", "complimentary"],
    # What else a question asks, read against a section's heading ("Who can apply?" ~ "Eligibility", "How do I
    # apply?" ~ "How to apply", "Wer kann sich bewerben?" ~ "Who can apply"): `knowledge.time_scope.intents`.
    "who": [r"who (?:can|may|is eligible|are eligible|qualifies|is it for)", "for whom", "eligibility",
            r"eligible (?:applicants?|companies|organi[sz]ations?|participants?)", r"target groups?"],
    "how": [r"how (?:do|can|could|should) (?:i|we|you|one)\b", "how to", r"how (?:it|does it|this) works?"],
    "contact": [r"contacts?", "get in touch"],
    "open": ["open", "still open", "currently open", "active"],
    # Bare "last" is left out: "the last day to apply" is about the future.
    "past": ["past", "previous", "ago", "last year", "last month", "last week"],
    "before": ["before", "until", "by", "through", "thru", "till", "til", "up to", "up until", "no later than",
               "prior to"],
    "article": ["the"],
    "end_of": ["end of", "the end of"],
    "after": ["after", "from"],
    "within": ["in", "during", "for", "of", "for the month of"],
    "this_month": ["this month"],
    "next_month": ["next month"],
    "this_week": ["this week"],
    "next_week": ["next week"],
    "today": ["today"],
    "tomorrow": ["tomorrow"],
    "this_year": ["this year"],
    # One day ("on Thursday 4 March", "March 20th", "next Tuesday"), or the week or weekend around it.
    "week_of": ["the week of", "week of"],
    "weekend_of": ["the weekend of", "weekend of"],
    "next_weekday": ["next", "this", "on"],
}
# Words that say what kind of thing and when, not what about: left out when judging a listing's topic.
GENERIC_WORDS = """event events workshop workshops webinar webinars summit conference conferences meetup
    session agenda calendar call calls funding grant grants deadline deadlines closes closing upcoming next
    coming future soon planned open still currently past previous when which what month week year today
    tomorrow before after this lists list there any show tell give thing things stuff something anything happening
    happen happens going close end ends ending language languages"""
# The kinds of event a listing prefers when some of its items are of them ("Any workshops in June?": the workshops,
# not the drinks; every event of the month when none is), as plain words, with the kind they name in every language.
KIND_NOUNS = {"workshop": "workshop", "workshops": "workshop", "webinar": "webinar", "webinars": "webinar",
              "summit": "summit", "summits": "summit", "conference": "conference", "conferences": "conference",
              "meetup": "meetup", "meetups": "meetup", "training": "training", "trainings": "training"}

# How a chat model says it cannot answer without writing NO_ANSWER (`knowledge.grounding.says_no_answer`): regular
# expressions over folded text (ASCII lower case, "ß" as "ss", apostrophes kept).
NO_ANSWER_WORDS: list[str] = [
    r"\bi (?:do not|don't|dont) know\b",
    r"\b(?:passages?|sources?|documents?|context|excerpts?)\b[^.]{0,60}\b(?:do|does)(?: not|n't|nt) "
    r"(?:contain|mention|say|specify|state|include|provide|cover|answer|give)",
    r"\b(?:no|not enough) (?:information|details?|mention)\b",
    r"\b(?:cannot|can't|cant|could not|couldn't|am unable to|is not possible to) (?:find|answer|tell|say|determine)",
    r"\bnot (?:mentioned|specified|stated|provided|available|included|covered|given) in\b",
]
# Numbers written as words in passages ("granted for two years"), for `knowledge.grounding`.
NUMBER_WORDS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30, "fifty": 50, "hundred": 100,
}

# A question read with the one before it in a thread: one that opens like a follow-up ("and the deadline?",
# "what about Lyon?") or points back at what was asked ("Is it free?"); folded, apostrophes as spaces.
FOLLOW_UP_WORDS: dict[str, list[str]] = {
    "opens": ["and", "what about", "how about", "also", "same for", "then", "ok and", "so"],
    "refers": ["it", "its", "this one", "that one", "them", "they", "those"],  # not "there": "Are there any ...?"
}

# A whole message that is only a greeting or a thanks (folded, punctuation and emoji left out): answered in kind,
# not searched ("hello" is no question the knowledge base fails to answer).
SMALL_TALK: dict[str, list[str]] = {
    "greeting": ["hi", "hello", "hey", "hi there", "hello there", "good morning", "good afternoon", "good evening",
                 "morning"],
    "thanks": ["thanks", "thank you", "thx", "many thanks", "thanks a lot", "thank you very much", "cheers", "great",
               "perfect", "ok", "okay", "ok thanks", "great thanks", "bye", "goodbye", "see you", "cool", "awesome",
               "got it", "nice"],
}

# Day names: capitalised in English, never a proper name to check (`knowledge.grounding`).
WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday"

# Acronyms that differ from one language to the next, by what they stand for (`knowledge.locales.acronym_forms`:
# "KI-Workshop" finds the "Atelier IA"); an acronym written alike in every language (MDR, EIC) needs none.
ACRONYMS: dict[str, str] = {"artificial intelligence": "AI", "small and medium enterprises": "SME",
                            "data protection regulation": "GDPR", "european union": "EU", "value added tax": "VAT",
                            "human resources": "HR"}
