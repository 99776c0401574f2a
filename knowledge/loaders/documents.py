"""Loaders for prose documents: Markdown, plain text, HTML, PDF and DOCX."""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path

from knowledge.loaders.base import (
    MB,
    LoadContext,
    Loaded,
    LoaderError,
    build_record,
    canonical_fields,
    check_text_size,
    over_limit,
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
    meta, body = split_front_matter(read_text(path, ctx), ctx)
    heading = _MD_HEADING.search(body)
    return _document(meta, body, heading.group(1) if heading else _pretty_stem(path), ctx)


def load_text(path: Path, ctx: LoadContext) -> Loaded:
    meta, body = split_front_matter(read_text(path, ctx), ctx)
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    title = first if 0 < len(first) <= 120 else _pretty_stem(path)
    return _document(meta, body, title, ctx)


_DROP_TAGS = ("script", "style", "noscript", "nav", "footer", "header", "aside", "form", "iframe", "svg",
              "button", "template")
_DROP_ROLES = ("navigation", "banner", "contentinfo", "search")
_BLOCK_TAGS = ("p", "div", "section", "article", "li", "tr", "pre", "blockquote", "table", "ul", "ol",
               "dd", "dt", "br", "figcaption", "main")


_HEADINGS = {f"h{level}": level for level in range(1, 7)}
# Depth is counted over elements that must be closed: `<p>`, `<li>`... often are not, and void ones never are.
_VOID_OR_OPTIONAL_END = frozenset(
    "area base br col embed hr img input link meta param source track wbr html head body p li dt dd tr td th "
    "thead tbody tfoot option optgroup colgroup caption rb rt rtc rp".split()
)
_HTML_RAW = re.compile(r"<!--.*?(?:-->|\Z)|<(script|style|textarea|title)\b.*?(?:</\1\s*>|\Z)",
                       re.DOTALL | re.IGNORECASE)
_HTML_TAG = re.compile(r"<(/?)([a-zA-Z][^\s/<>]*)[^<>]*?(/?)>")  # never past the next "<": linear time


def check_html_depth(html: str, max_depth: int) -> None:
    """Refuse a page nested deeper than `max_depth`, from its tags alone (no tree, no recursion).

    An end tag closes the innermost open element of its name and those inside it, as the parser does.
    """
    open_tags: list[str] = []
    for match in _HTML_TAG.finditer(_HTML_RAW.sub(" ", html)):
        closing, name, self_closing = match.group(1), match.group(2).lower(), match.group(3)
        if name in _VOID_OR_OPTIONAL_END:
            continue
        if closing:
            if name in open_tags:  # at most max_depth names to look through
                del open_tags[len(open_tags) - 1 - open_tags[::-1].index(name):]
        elif not self_closing:
            open_tags.append(name)
            if len(open_tags) > max_depth:
                raise LoaderError(f"HTML nested more than {max_depth} levels deep (KB_MAX_DEPTH)")


def _page_text(root) -> str:  # noqa: ANN001 - a bs4 Tag
    """The text of an element, headings as '## ', list items as '- ', blank lines after blocks.

    One pass over the tree with an explicit stack: time linear in the page, whatever its depth.
    """
    from bs4 import CData, NavigableString, Tag

    parts: list[str] = []
    todo: list[object] = [root]
    while todo:
        node = todo.pop()
        if isinstance(node, tuple):  # text to write after an element's content
            parts.append(node[0])
        elif isinstance(node, Tag):
            level = _HEADINGS.get(node.name)
            if level:
                parts.append(f"\n\n{'#' * level} {node.get_text(' ', strip=True)}\n\n")
                continue
            if node.name == "li":
                parts.append("\n- ")
            if node.name in _BLOCK_TAGS:
                todo.append(("\n\n",))
            todo.extend(reversed(node.contents))
        elif type(node) in (NavigableString, CData):  # not comments, scripts or doctype
            parts.append(str(node))
    return "".join(parts)


def html_to_text(html: str, max_depth: int = 100) -> tuple[str, dict[str, str]]:
    """Readable Markdown-like text of a page (headings kept, boilerplate dropped) and its title/link."""
    from bs4 import BeautifulSoup, Tag

    check_html_depth(html, max_depth)
    soup = BeautifulSoup(html, "html.parser")
    found: dict[str, str] = {}
    if soup.title and soup.title.get_text(strip=True):
        found["title"] = soup.title.get_text(" ", strip=True)
    canonical = soup.find("link", rel=lambda v: v and "canonical" in v)
    og_url = soup.find("meta", attrs={"property": "og:url"})
    if isinstance(canonical, Tag) and canonical.get("href"):
        found["url"] = str(canonical["href"]).strip()
    elif isinstance(og_url, Tag) and og_url.get("content"):
        found["url"] = str(og_url["content"]).strip()
    lang = soup.html.get("lang") if soup.html else None
    if lang:
        found["language"] = str(lang)[:2].lower()

    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for tag in soup.find_all(attrs={"role": list(_DROP_ROLES)}):  # type: ignore[call-overload]
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    h1 = root.find("h1")
    heading = h1.get_text(" ", strip=True) if h1 else ""
    # "<title>Page | Site</title>" with "<h1>Page</h1>": the h1 is the page's own name.
    if heading and (not found.get("title") or found["title"].startswith(heading)):
        found["title"] = heading
    text = _page_text(root)
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text, found


def load_html(path: Path, ctx: LoadContext) -> Loaded:
    meta, body = split_front_matter(read_text(path, ctx), ctx)
    text, found = html_to_text(body, ctx.max_depth)
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
    from pypdf.errors import DependencyError, PdfReadError

    read_bytes(path)  # empty-file check with the common message
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                opened = bool(reader.decrypt(""))  # an owner password only still lets anyone read it
            except (DependencyError, NotImplementedError):
                opened = False
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
    check_text_size(text, ctx)
    if not text.strip():
        raise LoaderError("PDF has no extractable text (scanned image?): provide a text PDF")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    title = str(info_title).strip() or (first if len(first) <= 120 else _pretty_stem(path))
    return _document({"title": title}, text, title, ctx)


_MAX_ZIP_MEMBERS = 10_000  # a DOCX holds tens of parts, a few hundred with many images


def check_unpacked_size(path: Path, ctx: LoadContext) -> None:
    """Refuse a zip (DOCX) that unpacks beyond KB_MAX_UNPACKED_MB: by its declared sizes, then by unpacking.

    Declared sizes can lie, so every member is also read (and discarded) with a running count; reading
    stops at the limit, so a bomb costs at most KB_MAX_UNPACKED_MB of decompression, never of memory.
    """
    limit = ctx.max_unpacked_mb * MB
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if len(members) > _MAX_ZIP_MEMBERS:
            raise LoaderError(f"DOCX has {len(members):,} parts, more than {_MAX_ZIP_MEMBERS:,}: not read")
        declared = sum(member.file_size for member in members)
        if declared > limit:
            raise over_limit("it unpacks to", declared, ctx.max_unpacked_mb, "KB_MAX_UNPACKED_MB")
        unpacked = 0
        for member in members:
            with archive.open(member) as stream:
                while block := stream.read(1 << 20):
                    unpacked += len(block)
                    if unpacked > limit:
                        raise over_limit("it unpacks to", unpacked, ctx.max_unpacked_mb, "KB_MAX_UNPACKED_MB")


def _docx_text(path: Path) -> tuple[str, str]:
    """(title, body) of a DOCX: headings as Markdown sections, list items, tables as ' | ' rows."""
    import docx

    document = docx.Document(str(path))
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
    return title, "\n\n".join(parts)


def load_docx(path: Path, ctx: LoadContext) -> Loaded:
    from docx.opc.exceptions import PackageNotFoundError
    from lxml import etree

    read_bytes(path)
    try:
        check_unpacked_size(path, ctx)
        title, body = _docx_text(path)
    except LoaderError:
        raise
    except etree.XMLSyntaxError as exc:  # python-docx parses parts as it goes: catch around all of it
        detail = (getattr(exc, "msg", None) or str(exc)).splitlines()[0][:160]
        raise LoaderError(f"corrupt DOCX: a part is not valid XML ({detail})") from None
    except (PackageNotFoundError, zipfile.BadZipFile, zlib.error, EOFError, KeyError, ValueError, IndexError,
            AttributeError, TypeError, NotImplementedError, RuntimeError) as exc:  # python-docx on a broken package
        reason = str(exc).splitlines()[0] if str(exc) else "bad zip"
        raise LoaderError(f"corrupt or unreadable DOCX: {reason}") from None
    check_text_size(body, ctx)
    return _document({"title": title} if title else {}, body, _pretty_stem(path), ctx)


__all__ = ["load_markdown", "load_text", "load_html", "load_pdf", "load_docx", "html_to_text"]
