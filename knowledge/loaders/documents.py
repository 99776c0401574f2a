"""Loaders for prose documents: Markdown, plain text, HTML, PDF and DOCX."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from knowledge.loaders.base import (
    LoadContext,
    Loaded,
    LoaderError,
    build_record,
    canonical_fields,
    read_bytes,
    read_text,
    split_front_matter,
)

_MD_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _pretty_stem(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize() or path.name


def _document(meta: dict[str, object], body: str, default_title: str, ctx: LoadContext) -> Loaded:
    known, extra = canonical_fields(meta)
    if not body.strip() and not known.get("description"):
        raise LoaderError("no text found")
    return Loaded([build_record(known, body, default_title=default_title, ctx=ctx)])


def load_markdown(path: Path, ctx: LoadContext) -> Loaded:
    meta, body = split_front_matter(read_text(path))
    heading = _MD_HEADING.search(body)
    return _document(meta, body, heading.group(1) if heading else _pretty_stem(path), ctx)


def load_text(path: Path, ctx: LoadContext) -> Loaded:
    meta, body = split_front_matter(read_text(path))
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    title = first if 0 < len(first) <= 120 else _pretty_stem(path)
    return _document(meta, body, title, ctx)


_DROP_TAGS = ("script", "style", "noscript", "nav", "footer", "header", "aside", "form", "iframe", "svg",
              "button", "template")
_DROP_ROLES = ("navigation", "banner", "contentinfo", "search")
_BLOCK_TAGS = ("p", "div", "section", "article", "li", "tr", "pre", "blockquote", "table", "ul", "ol",
               "dd", "dt", "br", "figcaption", "main")


def html_to_text(html: str) -> tuple[str, dict[str, str]]:
    """Readable Markdown-like text of a page (headings kept, boilerplate dropped) and its title/link."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    found: dict[str, str] = {}
    if soup.title and soup.title.get_text(strip=True):
        found["title"] = soup.title.get_text(" ", strip=True)
    canonical = soup.find("link", rel=lambda v: v and "canonical" in v)
    og_url = soup.find("meta", attrs={"property": "og:url"})
    if canonical and canonical.get("href"):
        found["url"] = canonical["href"].strip()
    elif og_url and og_url.get("content"):
        found["url"] = og_url["content"].strip()
    lang = soup.html.get("lang") if soup.html else None
    if lang:
        found["language"] = str(lang)[:2].lower()

    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for tag in soup.find_all(attrs={"role": list(_DROP_ROLES)}):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    h1 = root.find("h1")
    heading = h1.get_text(" ", strip=True) if h1 else ""
    # "<title>Page | Site</title>" with "<h1>Page</h1>": the h1 is the page's own name.
    if heading and (not found.get("title") or found["title"].startswith(heading)):
        found["title"] = heading
    for level in range(1, 7):
        for heading in root.find_all(f"h{level}"):
            text = heading.get_text(" ", strip=True)
            heading.replace_with(f"\n\n{'#' * level} {text}\n\n")
    for item in root.find_all("li"):
        item.insert_before("\n- ")
    for block in root.find_all(_BLOCK_TAGS):
        block.insert_after("\n\n")
    text = root.get_text()
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text, found


def load_html(path: Path, ctx: LoadContext) -> Loaded:
    meta, body = split_front_matter(read_text(path))
    text, found = html_to_text(body)
    for key, value in found.items():
        meta.setdefault(key, value)
    return _document(meta, text, _pretty_stem(path), ctx)


def _join_pdf_lines(page_text: str) -> str:
    """pypdf gives one line per printed line: rebuild paragraphs, undo end-of-line hyphenation."""
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", page_text)
    paragraphs = re.split(r"\n\s*\n", text)
    joined = []
    for paragraph in paragraphs:
        lines = [line.strip() for line in paragraph.splitlines() if line.strip()]
        out = ""
        for line in lines:
            # A short line without final punctuation followed by more text is a heading or a list item.
            if out and (out.endswith((".", ":", "!", "?", ";")) or len(out.splitlines()[-1]) < 60):
                out += "\n" + line
            else:
                out += (" " if out else "") + line
        joined.append(out)
    return "\n\n".join(p for p in joined if p)


def load_pdf(path: Path, ctx: LoadContext) -> Loaded:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, DependencyError

    read_bytes(path)  # empty-file check with the common message
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")  # an owner password only still lets anyone read it
            except (DependencyError, NotImplementedError):
                opened = 0
            if not opened:
                raise LoaderError("encrypted PDF (password protected): provide an unprotected copy")
        pages = [page.extract_text() or "" for page in reader.pages]
        info_title = (reader.metadata.title if reader.metadata else None) or ""
    except LoaderError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LoaderError(f"corrupt or unreadable PDF: {reason}") from None
    text = "\n\n".join(_join_pdf_lines(p) for p in pages if p.strip())
    if not text.strip():
        raise LoaderError("PDF has no extractable text (scanned image?): provide a text PDF")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    title = str(info_title).strip() or (first if len(first) <= 120 else _pretty_stem(path))
    return _document({"title": title}, text, title, ctx)


def load_docx(path: Path, ctx: LoadContext) -> Loaded:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    read_bytes(path)
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoaderError(f"corrupt or unreadable DOCX: {str(exc).splitlines()[0] if str(exc) else 'bad zip'}") from None
    title = (document.core_properties.title or "").strip()
    parts: list[str] = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if style == "Title":
            title = title or text
            continue
        level = re.match(r"Heading (\d)", style)
        if level:
            parts.append(f"{'#' * int(level.group(1))} {text}")
            title = title or text
        elif style.startswith("List"):
            parts.append(f"- {text}")
        else:
            parts.append(text)
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
            if cells:
                parts.append(" | ".join(dict.fromkeys(cells)))
    body = "\n\n".join(parts)
    return _document({"title": title} if title else {}, body, _pretty_stem(path), ctx)


__all__ = ["load_markdown", "load_text", "load_html", "load_pdf", "load_docx", "html_to_text"]
