"""MkDocs hook: `<lang>`, `<recipe folder>` and other placeholders in prose stay visible text.

The docstrings that the API reference renders (and these pages) write placeholders in angle
brackets outside code spans, e.g. recipes/<lang>/train.py. Markdown passes any `<word>` through
as raw HTML, which a browser then hides. This hook swaps Python-Markdown's inline raw-HTML
pattern for one that keeps real HTML elements and comments and turns any other tag into text.
It registers the extension in on_config ahead of mkdocstrings, which renders docstrings with
the site's Markdown extensions.
"""

import re

from markdown.extensions import Extension
from markdown.inlinepatterns import HTML_RE, HtmlInlineProcessor
from mkdocs.plugins import event_priority

# The inline HTML a page may mean literally; any other <name ...> is a placeholder.
HTML_ELEMENTS = {
    "a", "abbr", "b", "br", "code", "del", "details", "div", "em", "i", "img", "ins", "kbd",
    "mark", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "u", "var",
}  # fmt: skip
TAG_NAME = re.compile(r"</?([A-Za-z][\w-]*)")


class PlaceholderAwareHtml(HtmlInlineProcessor):
    """Raw inline HTML for HTML elements and comments; any other tag is returned as text."""

    def handleMatch(self, m, data):
        name = TAG_NAME.match(m.group(1))
        if name and name.group(1).lower() not in HTML_ELEMENTS:
            return m.group(1), m.start(0), m.end(0)
        return super().handleMatch(m, data)


class PlaceholdersAsText(Extension):
    def extendMarkdown(self, md):
        # Registered under the same name and priority as Python-Markdown's own (markdown.inlinepatterns).
        md.inlinePatterns.register(PlaceholderAwareHtml(HTML_RE, md), "html", 90)


@event_priority(100)  # before mkdocstrings reads the extensions
def on_config(config):
    config.markdown_extensions.append(PlaceholdersAsText())
    return config
