"""GNU as's statements, as GNU as itself splits them, for the directive allowlist: block
comments (/* */), the target's line comment (the GNU reading rules' line_comment; `#`
at the start of a line on every target), strings ("...", with backslash escapes) and
character constants ('c, '\\c), statements separated by newlines and `;`. A `/*` or a
`;` inside a string is text, not a comment or a separator, so no directive hides in
one; a string or comment left open runs to the end of the text, as GNU as reads it.
One pass, linear in the text."""
from __future__ import annotations

import re

_LABELS = re.compile(r"^(\s*[\w.$]+\s*:)*\s*")


def statements(text: str, line_comment: str | None = "#") -> list[tuple[int, str]]:
    """(line number, statement) for every non-empty statement of text, its comments
    removed and its strings kept."""
    out: list[tuple[int, str]] = []
    cur: list[str] = []
    line, start = 1, 1
    i, n = 0, len(text)
    at_line_start = True  # only blanks so far on this line

    def flush():
        s = "".join(cur).strip()
        if s:
            out.append((start, s))
        cur.clear()

    while i < n:
        c = text[i]
        if c == "\n":
            flush()
            line += 1
            start, at_line_start = line, True
            i += 1
            continue
        if c == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            line += text.count("\n", i, end)
            if cur:
                cur.append(" ")  # a comment is a blank
            i = end
            continue
        if (line_comment and text.startswith(line_comment, i)) or (c == "#" and at_line_start):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if c == '"':
            # A string ends at its quote or, unterminated, at the end of the line: GNU as
            # then reads the next line as statements, and so does this.
            j = i + 1
            while j < n and text[j] not in '"\n':
                j += 2 if text[j] == "\\" and j + 1 < n and text[j + 1] != "\n" else 1
            cur.append(text[i:j + 1] if j < n and text[j] == '"' else text[i:j])
            i = j + 1 if j < n and text[j] == '"' else j
            at_line_start = False
            continue
        if c == "'":
            j = i + (3 if text.startswith("\\", i + 1) else 2)
            cur.append(text[i:j])
            i = j
            at_line_start = False
            continue
        if c == ";":
            flush()
            start = line
            i += 1
            continue
        if not c.isspace():
            at_line_start = False
        if not cur:
            start = line
        cur.append(c)
        i += 1
    flush()
    return out


def directive_problems(text: str, name: str, allowed, line_comment: str | None, bounds=None) -> list[str]:
    """Each statement that starts (after its labels) with a directive not in allowed, or
    with a macro parameter (`\\d`, which could expand to any directive), as "name:line:
    why"; bounds(directive, first_argument) -> a problem or None bounds what is allowed."""
    out = []
    for line, stmt in statements(text, line_comment):
        rest = _LABELS.sub("", stmt, count=1)
        if rest.startswith("\\"):
            out.append(f"{name}:{line}: a statement that starts with a macro parameter ({rest.split()[0]}) could "
                       "expand to any directive")
            continue
        if not rest.startswith(".") or rest.startswith(".L"):
            continue
        directive = rest.split(None, 1)[0].rstrip(",")
        if directive[1:] not in allowed:
            out.append(f"{name}:{line}: directive {directive}")
            continue
        if bounds is not None:
            why = bounds(directive, rest[len(directive):].split(",")[0].strip())
            if why:
                out.append(f"{name}:{line}: {directive} {why}")
    return out
