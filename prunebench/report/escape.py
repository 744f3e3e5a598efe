"""Record strings made safe for the format they are written into. A record is a file anyone may hand over, and its
strings (names, labels, device names, error messages) reach Markdown, CSV and the terminal: raw HTML, a
`javascript:` link, a `|` that splits a table row, or an ANSI escape that rewrites the terminal must come out as
text. Genuine records hold none of these characters in the fields shown, so the published files do not change.
(HTML output escapes with `html.escape` where it is written; plots render text without mathtext.)"""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # keeps \t and \n
# Script schemes anywhere; data: and file: only where they start a URL ("data:text/html", "file://"), so prose
# such as "stand-in data: ..." is left as written.
_SCHEME = re.compile(r"(?i)\b(javascript|vbscript|data(?=\s*:\s*[a-z]+/)|file(?=\s*://))(\s*):")
_FORMULA = re.compile(r"^\s*[=+\-@]")
_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")


def terminal(text: str) -> str:
    """`text` without ANSI escape sequences and control characters (newlines and tabs kept)."""
    return _CONTROL.sub("", _ANSI.sub("", text))


def _schemes(text: str) -> str:
    # A fullwidth colon: the word stays readable and no renderer takes it for a link's scheme.
    return _SCHEME.sub(lambda m: f"{m.group(1)}{m.group(2)}\uff1a", text)


def markdown_text(text: str, *, angle_brackets: bool = True) -> str:
    """A paragraph or list item: no control characters, no HTML (`<` as an entity: no tag can open; a lone `>`
    opens none, and prunebench's own "A -> B" stays as written), no script links."""
    text = _schemes(terminal(text))
    if angle_brackets:
        text = text.replace("<", "&lt;")
    return text


def markdown_cell(text: str) -> str:
    """A table cell or heading: as `markdown_text`, on one line, with `|` escaped and no link can form."""
    text = markdown_text(" ".join(str(text).split("\n")))
    return text.replace("|", "\\|").replace("](", "]\\(")


def csv_cell(value):
    """A CSV field: strings without control characters, and one that a spreadsheet would run as a formula
    (=, +, -, @ first) prefixed with a quote; numbers as they are."""
    if not isinstance(value, str):
        return value
    value = terminal(value)
    return "'" + value if _FORMULA.match(value) and not _NUMBER.match(value) else value
