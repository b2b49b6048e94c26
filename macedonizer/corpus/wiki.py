"""MediaWiki XML dumps (``mkwiki-*-pages-articles.xml.bz2``) to plain text.

Articles (namespace 0, no redirects) are parsed with mwxml, their wikitext
with mwparserfromhell: templates, references, tables, files, categories and
interwiki links are removed, links keep their visible text, headings are
dropped, and the tail sections that are lists rather than prose (references,
literature, external links, see also) are cut. Each article is one document
whose paragraphs are separated by blank lines.
"""

from __future__ import annotations

import bz2
import re
from collections import Counter
from collections.abc import Iterator

import mwparserfromhell
import mwxml

# Section titles after which a Macedonian (or English) article has no prose.
TAIL_SECTIONS = {
    "наводи", "извори", "литература", "белешки", "поврзано", "видете исто така",
    "надворешни врски", "надворешни линкови", "библиографија", "референци",
    "references", "see also", "external links", "further reading", "notes", "bibliography",
}
_MEDIA_PREFIXES = ("податотека:", "слика:", "file:", "image:", "категорија:", "category:", "медиум:", "media:")
_INTERWIKI_RE = re.compile(r"^[a-z]{2,3}(-[a-z]+)?:")


def _keep_link(title: str) -> bool:
    lower = title.strip().lower()
    return not (lower.startswith(_MEDIA_PREFIXES) or _INTERWIKI_RE.match(lower))


def wikitext_to_text(wikitext: str) -> str:
    """Plain prose of one article's wikitext; paragraphs separated by blank lines."""
    code = mwparserfromhell.parse(wikitext)
    for section in code.get_sections(levels=[2]):
        headings = section.filter_headings(recursive=False)
        if headings and headings[0].title.strip_code().strip().lower() in TAIL_SECTIONS:
            try:
                code.remove(section)
            except ValueError:
                pass
    for node in code.filter_templates(recursive=False):
        _remove(code, node)
    for node in code.filter_tags(recursive=False):
        if str(node.tag).lower() in ("ref", "table", "gallery", "math", "code", "pre", "references", "timeline"):
            _remove(code, node)
    for node in code.filter_wikilinks(recursive=False):
        if not _keep_link(str(node.title)):
            _remove(code, node)
    for node in code.filter_headings(recursive=False):
        _remove(code, node)
    text = code.strip_code(normalize=True, collapse=True)
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in block.split("\n")]
        # List items and table debris are not prose.
        lines = [line for line in lines if line and not line.startswith(("*", "#", "|", "{", "!", ";", ":"))]
        if lines:
            paragraphs.append(" ".join(lines))
    return "\n\n".join(paragraphs)


def _remove(code, node) -> None:
    try:
        code.remove(node)
    except ValueError:  # already gone with a parent
        pass


def iter_articles(path: str, stats: Counter) -> Iterator[tuple[str, str]]:
    """Yield (title, plain text) for every article of a dump."""
    opener = bz2.open if path.lower().endswith(".bz2") else open
    with opener(path, "rb") as f:
        dump = mwxml.Dump.from_file(f)
        for page in dump:
            if page.namespace != 0 or page.redirect:
                continue
            text = None
            for revision in page:
                text = revision.text
            if not text:
                stats["empty_article"] += 1
                continue
            plain = wikitext_to_text(text)
            if plain:
                yield page.title, plain
            else:
                stats["empty_article"] += 1
