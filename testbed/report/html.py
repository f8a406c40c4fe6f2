"""HTML building blocks for the report: escaping, tables, embedded images, the inline stylesheet.

Why: the page must be one self-contained file -- mailed, attached to an issue, opened offline -- so
images are ``data:`` URIs, the CSS is inline and nothing names another URL.  Every piece of text
from a results directory goes through :func:`esc`, so a run name or an error message can never
break the page.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from typing import Any

CSS = """
:root { --ink: #1f2328; --muted: #59636e; --rule: #d1d9e0; --band: #f6f8fa; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       color: var(--ink); background: #fff; }
main { max-width: 1480px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 10px; padding-bottom: 6px; border-bottom: 1px solid var(--rule); }
h3 { font-size: 16px; margin: 22px 0 6px; }
p.meta, p.note, figcaption, .muted { color: var(--muted); }
p.note { font-size: 13px; max-width: 95ch; }
nav { margin: 12px 0 0; font-size: 14px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 16px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 10px; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top;
         white-space: nowrap; }
th { background: var(--band); font-weight: 600; white-space: normal; min-width: 4em; vertical-align: bottom; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.bad { color: #cf222e; font-weight: 600; }
td.wrap { white-space: normal; max-width: 60ch; min-width: 6em; }
figure { margin: 16px 0 28px; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--rule); border-radius: 4px; }
figcaption { font-size: 13px; margin-top: 4px; }
details { border: 1px solid var(--rule); border-radius: 6px; margin: 10px 0; padding: 0 14px; }
details[open] { padding-bottom: 10px; }
summary { cursor: pointer; padding: 9px 0; font-weight: 600; }
summary .muted { font-weight: 400; margin-left: 8px; }
pre { background: var(--band); border: 1px solid var(--rule); border-radius: 4px; padding: 10px 12px;
      font: 12px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-x: auto;
      max-height: 420px; margin: 4px 0 10px; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--band);
       padding: 1px 5px; border-radius: 3px; }
.grid2 { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 0 24px; }
@media (max-width: 900px) { .grid2 { grid-template-columns: minmax(0, 1fr); } }
""".strip()


def esc(value: Any) -> str:
    """``value`` as HTML text (quotes too)."""
    return html.escape("" if value is None else str(value), quote=True)


def data_uri(png: bytes) -> str:
    """A ``data:image/png;base64,...`` URI of ``png``."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def image(png: bytes, alt: str, caption: str = "") -> str:
    """A ``<figure>`` holding ``png`` embedded, with an optional caption."""
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{data_uri(png)}" alt="{esc(alt)}">{cap}</figure>'


def _is_number(text: str) -> bool:
    head = text.split(" ")[0].replace(",", "").replace("$", "")
    try:
        float(head)
    except ValueError:
        return False
    return True


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], bad_column: str | None = None,
          wrap: Iterable[str] = ()) -> str:
    """An HTML table; number-like cells are right-aligned, ``bad_column`` cells not ``complete`` are red,
    cells of the ``wrap`` columns may wrap."""
    wrapped = set(wrap)
    head = "".join(f"<th>{esc(c).replace('_', '_<wbr>')}</th>" for c in columns)  # long names may break
    body = []
    for row in rows:
        cells = []
        for column, value in zip(columns, row, strict=True):
            missing = value is None or (isinstance(value, float) and value != value)  # None or NaN: not set
            text = "" if missing else str(value)
            classes = [c for c, on in (("num", _is_number(text)), ("wrap", column in wrapped),
                                       ("bad", column == bad_column and text not in ("complete", ""))) if on]
            attr = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attr}>{esc(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def pre(text: str) -> str:
    """Preformatted text (a config file, a JSON document)."""
    return f"<pre>{esc(text.rstrip())}</pre>"


def details(title: str, body: str, note: str = "", is_open: bool = False) -> str:
    """A collapsible block titled ``title`` (with a muted ``note``)."""
    extra = f'<span class="muted">{esc(note)}</span>' if note else ""
    return f"<details{' open' if is_open else ''}><summary>{esc(title)}{extra}</summary>{body}</details>"


def page(title: str, body: str) -> str:
    """The whole document: doctype, inline CSS, ``body`` inside ``<main>``."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head>"
            f"<body><main>{body}</main></body></html>\n")
