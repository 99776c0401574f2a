"""Each loader on small files the tests create, including the ways staff files go wrong."""

from __future__ import annotations

import io
import json
from datetime import datetime

import pytest

from knowledge.loaders import LoaderError, load
from tests.conftest import PARIS


def _pdf_bytes(lines: list[str], title: str | None = None) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    if title:
        pdf.set_title(title)
    for line in lines:
        pdf.multi_cell(0, 8, line)
        pdf.ln(4)
    return bytes(pdf.output())


# --- Markdown and text --------------------------------------------------------------------------------------


def test_markdown_front_matter_sets_title_link_kind_audience_and_dates(write, ctx):
    path = write("calls/eic.md", """---
title: EIC Accelerator
url: https://example.org/eic
kind: funding_call
audience: member
funder: European Innovation Council
deadline: 2027-03-04
budget: up to EUR 2.5 million
---
# EIC Accelerator

Grants for start-ups and SMEs.
""")
    [record] = load(path, ctx).records
    assert (record.title, record.url, record.kind, record.audience) == (
        "EIC Accelerator", "https://example.org/eic", "funding_call", "member")
    assert record.dates["deadline"] == datetime(2027, 3, 4, 23, 59, 59, tzinfo=PARIS)
    assert record.language == "en"
    assert "Deadline: 2027-03-04" in record.text and "Funder: European Innovation Council" in record.text
    assert record.whole, "a funding call is kept in one chunk"


def test_markdown_without_front_matter_takes_first_heading_and_detects_french(write, ctx):
    path = write("guide.md", "# Guide des aides\n\nLes appels à projets de la Région sont ouverts aux PME.\n")
    [record] = load(path, ctx).records
    assert record.title == "Guide des aides"
    assert record.language == "fr"
    assert (record.kind, record.audience, record.url) == ("document", "public", None)


@pytest.mark.parametrize(
    "front_matter, reason",
    [
        ("title: [unclosed", "invalid YAML front matter"),
        ("kind: brochure", "kind 'brochure' is not one of"),
        ("audience: everyone-ish", "audience 'everyone-ish' is not one of"),
        ("deadline: soon", "deadline: not a date"),
    ],
)
def test_markdown_with_bad_front_matter_fails_with_the_reason(write, ctx, front_matter, reason):
    path = write("bad.md", f"---\n{front_matter}\n---\nBody text.\n")
    with pytest.raises(LoaderError, match=reason):
        load(path, ctx)


def test_plain_text_title_is_its_first_line(write, ctx):
    path = write("notes.txt", "Opening hours\n\nThe cluster office is open from 9:00 to 17:00.\n")
    [record] = load(path, ctx).records
    assert record.title == "Opening hours"
    assert "9:00 to 17:00" in record.text


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty file"),
        (b"   \n\n", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        ("Café de l'innovation, à Lyon".encode("latin-1"), "not UTF-8 text"),
    ],
)
def test_unreadable_text_files_fail_with_a_one_line_reason(write, ctx, content, reason):
    path = write("broken.md", content)
    with pytest.raises(LoaderError, match=reason) as info:
        load(path, ctx)
    assert "\n" not in str(info.value)


def test_utf8_with_bom_and_utf16_are_read(write, ctx):
    bom = write("bom.md", "\ufeff---\ntitle: Avec BOM\n---\nTexte accentué.\n".encode("utf-8"))
    utf16 = write("utf16.txt", "Programme d'accélération\n\nÉligibilité des PME.".encode("utf-16"))
    assert load(bom, ctx).records[0].title == "Avec BOM"
    assert "Éligibilité" in load(utf16, ctx).records[0].text


# --- HTML -----------------------------------------------------------------------------------------------------


def test_html_drops_boilerplate_keeps_headings_and_reads_title_and_canonical_link(write, ctx):
    path = write("page.html", """<html lang="en"><head><title>Partner search | Cluster</title>
<link rel="canonical" href="https://example.org/partners"><script>var tracking = 1;</script></head>
<body><nav>Home Services Events</nav><main><h1>Partner search</h1><p>We find partners.</p>
<h2>Price</h2><p>Included in membership.</p></main><footer>Legal notice and cookies</footer></body></html>""")
    [record] = load(path, ctx).records
    assert record.title == "Partner search"
    assert record.url == "https://example.org/partners"
    assert "## Price" in record.text and "Included in membership." in record.text
    for boilerplate in ("Home Services", "tracking", "Legal notice"):
        assert boilerplate not in record.text


def test_html_og_url_is_the_link_when_there_is_no_canonical(write, ctx):
    path = write("og.html", '<html><head><meta property="og:url" content="https://example.org/og">'
                            "</head><body><h1>Title</h1><p>Body text here.</p></body></html>")
    assert load(path, ctx).records[0].url == "https://example.org/og"


def test_html_front_matter_wins_over_page_tags(write, ctx):
    path = write("fm.html", "---\ntitle: From front matter\naudience: staff\n---\n"
                            "<html><head><title>Page title</title></head><body><p>Internal text.</p></body></html>")
    [record] = load(path, ctx).records
    assert (record.title, record.audience) == ("From front matter", "staff")


# --- PDF and DOCX -----------------------------------------------------------------------------------------


def test_pdf_text_and_title_are_extracted(write, ctx):
    path = write("guide.pdf", _pdf_bytes(["Funding guide", "The regional call closes on 29 January."],
                                         title="Regional funding guide"))
    [record] = load(path, ctx).records
    assert record.title == "Regional funding guide"
    assert "closes on 29 January" in record.text


def test_encrypted_pdf_fails_cleanly(write, ctx):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(_pdf_bytes(["Secret budget"]))).pages:
        writer.add_page(page)
    writer.encrypt(user_password="s3cret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    path = write("locked.pdf", buffer.getvalue())
    with pytest.raises(LoaderError, match="encrypted PDF"):
        load(path, ctx)


@pytest.mark.parametrize("content", [b"%PDF-1.7\n garbage that is not a pdf body", b"not a pdf at all"])
def test_corrupt_pdf_fails_cleanly(write, ctx, content):
    path = write("corrupt.pdf", content)
    with pytest.raises(LoaderError, match="PDF"):
        load(path, ctx)


def test_docx_headings_become_sections(write, ctx):
    import docx

    document = docx.Document()
    document.add_heading("Accreditation guide", level=1)
    document.add_paragraph("The label is granted for two years.")
    document.add_heading("Costs", level=2)
    document.add_paragraph("Free for members.")
    buffer = io.BytesIO()
    document.save(buffer)
    path = write("guide.docx", buffer.getvalue())
    [record] = load(path, ctx).records
    assert record.title == "Accreditation guide"
    assert "## Costs" in record.text and "Free for members." in record.text


def test_corrupt_docx_fails_cleanly(write, ctx):
    path = write("broken.docx", b"PK\x03\x04 this zip is truncated")
    with pytest.raises(LoaderError, match="DOCX"):
        load(path, ctx)


# --- Calendars ------------------------------------------------------------------------------------------------

ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:workshop@test
DTSTART;TZID=America/New_York:20261210T090000
DTEND;TZID=America/New_York:20261210T110000
SUMMARY:Boston medtech mission briefing
LOCATION:Online
URL:https://example.org/boston
DESCRIPTION:Preparation call for the Boston mission.
END:VEVENT
BEGIN:VEVENT
UID:summit@test
DTSTART;VALUE=DATE:20270323
DTEND;VALUE=DATE:20270325
SUMMARY:Health Innovation Summit
END:VEVENT
BEGIN:VEVENT
UID:weekly@test
DTSTART;TZID=Europe/Paris:20261103T083000
DTEND;TZID=Europe/Paris:20261103T093000
RRULE:FREQ=WEEKLY
SUMMARY:Café partenaires
END:VEVENT
BEGIN:VEVENT
UID:private@test
DTSTART:20261201T100000Z
CLASS:PRIVATE
SUMMARY:Board meeting
END:VEVENT
END:VCALENDAR
"""


def test_ics_events_keep_time_zones_and_all_day_dates(write, ctx):
    records = load(write("events.ics", ICS), ctx).records
    by_title = {}
    for record in records:
        by_title.setdefault(record.title, []).append(record)
    [briefing] = by_title["Boston medtech mission briefing"]
    assert briefing.kind == "event" and briefing.url == "https://example.org/boston"
    assert briefing.dates["start"].astimezone(PARIS).hour == 15  # 09:00 New York is 15:00 Paris
    assert briefing.fields["location"] == "Online"
    [summit] = by_title["Health Innovation Summit"]
    assert summit.dates["start"].date().isoformat() == "2027-03-23"
    assert summit.dates["end"].date().isoformat() == "2027-03-24", "DTEND of an all-day event is exclusive"


def test_ics_recurring_event_is_expanded_over_a_bounded_window(write, ctx):
    records = load(write("events.ics", ICS), ctx).records
    weekly = [r for r in records if r.title == "Café partenaires"]
    starts = sorted(r.dates["start"] for r in weekly)
    assert len(weekly) > 40, "a year of weekly occurrences"
    assert len(weekly) <= 60, "an endless rule is bounded"
    assert starts[0].date().isoformat() == "2026-11-03", "expansion starts at the first occurrence in the window"
    assert all(s.hour == 8 and s.minute == 30 for s in starts), "wall-clock time kept across DST"


def test_ics_private_event_is_staff_only(write, ctx):
    records = load(write("events.ics", ICS), ctx).records
    assert [r.audience for r in records if r.title == "Board meeting"] == ["staff"]


CATEGORISED = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:tabletop@test
DTSTART;TZID=Europe/Paris:20270518T090000
SUMMARY:Hospital ransomware tabletop exercise
CATEGORIES:Workshop,Cybersecurity
CATEGORIES:Hospitals
DESCRIPTION:Play the crisis cell of a hospital.
END:VEVENT
BEGIN:VEVENT
UID:wearables@test
DTSTART;TZID=Europe/Paris:20270311T183000
STATUS:CANCELLED
SUMMARY:Meetup #32: wearables
END:VEVENT
END:VCALENDAR
"""


def test_ics_categories_say_what_an_event_is_about(write, ctx):
    [tabletop, _] = load(write("events.ics", CATEGORISED), ctx).records
    assert tabletop.fields["topics"] == "Workshop, Cybersecurity, Hospitals"
    assert "Topics: Workshop, Cybersecurity, Hospitals" in tabletop.text  # searchable, quotable


def test_ics_cancelled_event_is_kept_and_says_so(write, ctx):
    [_, meetup] = load(write("events.ics", CATEGORISED), ctx).records
    assert meetup.fields["status"] == "cancelled"
    assert meetup.text.startswith("Status: cancelled")


@pytest.mark.parametrize(
    "content",
    [
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:No end\n",
        "this is not a calendar",
        "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nDTSTART:2026-13-45\nSUMMARY:Bad\nEND:VEVENT\nEND:VCALENDAR\n",
    ],
)
def test_malformed_calendar_fails_cleanly(write, ctx, content):
    with pytest.raises(LoaderError):
        load(write("broken.ics", content), ctx)


# --- Tables ---------------------------------------------------------------------------------------------------


def test_csv_with_semicolons_and_french_headers_maps_columns(write, ctx):
    path = write("appels.csv", "Référence;Titre;Financeur;Date limite;Montant;Lien\n"
                               "INOV-13;Concours i-Nov;Bpifrance;10/02/2027;1 à 5 M€;https://example.org/inov\n")
    [record] = load(path, ctx).records
    assert record.kind == "funding_call", "a deadline makes a row a call"
    assert record.title == "Concours i-Nov" and record.url == "https://example.org/inov"
    assert record.dates["deadline"].date().isoformat() == "2027-02-10", "French dates are day first"
    assert record.fields["reference"] == "INOV-13"
    assert "INOV-13" in record.text, "identifiers are searchable"


def test_csv_bad_rows_are_reported_and_the_rest_is_loaded(write, ctx):
    path = write("calls.csv", "title,deadline,budget\n"
                              "Good call,2027-01-31,EUR 10k\n"
                              ",2027-02-01,EUR 5k\n"
                              "Vague call,sometime,EUR 1k\n"
                              "Too many,2027-01-01,a,b\n")
    loaded = load(path, ctx)
    assert [r.title for r in loaded.records] == ["Good call"]
    assert loaded.problems == [
        "row 3: no title",
        "row 4: deadline: not a date: 'sometime'",
        "row 5: 4 fields, the header has 3",
    ]


def test_json_and_yaml_tables_become_events_and_calls(write, ctx):
    events = write("events.json", json.dumps({"events": [
        {"name": "Atelier IA", "start": "2026-12-10T14:00", "end": "2026-12-10T17:30", "lieu": "Lyon"}]}))
    calls = write("calls.yaml", "- title: Export voucher\n  deadline: 2027-06-30\n  audience: members\n")
    [event] = load(events, ctx).records
    assert event.kind == "event" and event.fields["location"] == "Lyon"
    assert event.dates["start"] == datetime(2026, 12, 10, 14, 0, tzinfo=PARIS)
    [call] = load(calls, ctx).records
    assert (call.kind, call.audience) == ("funding_call", "member")


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("calls.json", "{not json", "invalid JSON"),
        ("calls.yaml", "a: [1, 2\n", "invalid YAML"),
        ("calls.json", '"just a string"', "must be a list"),
        ("calls.csv", "title,deadline\n,2027-01-01\n", "no readable row"),
    ],
)
def test_unreadable_tables_fail_cleanly(write, ctx, name, content, reason):
    with pytest.raises(LoaderError, match=reason):
        load(write(name, content), ctx)


def test_unsupported_extension_is_refused(write, ctx):
    with pytest.raises(LoaderError, match="unsupported"):
        load(write("image.png", b"\x89PNG"), ctx)


def test_a_table_rows_status_and_topics_columns_say_cancelled_and_what_it_is_about(write, ctx):
    rows = ("titre;date;statut;thèmes\n"
            "Petit-déjeuner des adhérents;2027-04-09 08:30;Annulé;Réseau\n"
            "Atelier RGPD;2027-06-03 09:30;confirmé;RGPD, santé\n")
    breakfast, workshop = load(write("events.csv", rows), ctx).records
    assert breakfast.kind == "event" and breakfast.fields["status"] == "cancelled"
    assert breakfast.text.startswith("Statut: annulé")
    assert workshop.fields["status"] == "confirmé" and workshop.fields["topics"] == "RGPD, santé"


def test_a_documents_front_matter_status_or_tags_add_no_facts(write, ctx):
    [doc] = load(write("guide.md", "---\ntitle: Guide\nstatus: draft\ntags: [a, b]\n---\nSome text.\n"), ctx).records
    assert doc.text == "Some text." and "status" not in doc.fields
