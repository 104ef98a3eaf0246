"""One self-contained HTML file per run: the document model and its rendering.

A :class:`Report` is a title, the facts that make a run reproducible (command line, seed,
date, nephrosim and library versions) and a list of :class:`Section` s. Each section holds
paragraphs, tables, figures and preformatted text (a scenario's YAML). :func:`render` fills
one jinja2 template with **autoescaping on**, so any text a user wrote (scenario and arm
names, study labels) is shown as text and can never become markup or script. Figures are
embedded as base64 PNG ``data:`` URIs and the style sheet is inline: the file references
nothing outside itself and can be e-mailed as it is.
"""

from __future__ import annotations

import base64
import io
import math
import platform
import shlex
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

#: Distributions whose versions every report lists (those that shape a result).
VERSIONED = ("nephrosim", "numpy", "scipy", "pandas", "pydantic", "libroadrunner", "python-libsbml", "pint",
             "matplotlib", "duckdb", "statsmodels", "jinja2")


@dataclass(frozen=True)
class Table:
    """A table to show: a caption, column names and rows of cells (numbers or text)."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    @classmethod
    def from_frame(cls, frame, caption: str = "", index: bool = False) -> "Table":
        """A :class:`Table` from a ``pandas.DataFrame`` (its index as the first column if ``index``)."""
        if index:
            frame = frame.reset_index()
        return cls(caption, tuple(str(c) for c in frame.columns),
                   tuple(tuple(row) for row in frame.itertuples(index=False, name=None)))


@dataclass(frozen=True)
class Figure:
    """An embedded image: ``data`` is a ``data:`` URI (never a link to a file or a server)."""

    caption: str
    data: str


@dataclass(frozen=True)
class Section:
    """A heading and its content, shown in this order: paragraphs, tables, figures, preformatted text."""

    heading: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    figures: tuple[Figure, ...] = ()
    preformatted: tuple[tuple[str, str], ...] = ()  # (caption, text)
    markdown: tuple[str, ...] = ()  # Markdown rendered with raw HTML disabled (markdown_html), shown last


@dataclass(frozen=True)
class Report:
    """A whole report. ``facts`` are shown as a list under the title (seed, inputs, ...)."""

    title: str
    command: str
    sections: tuple[Section, ...]
    facts: tuple[tuple[str, str], ...] = ()
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"))
    versions: tuple[tuple[str, str], ...] = field(default_factory=lambda: package_versions())


def package_versions() -> tuple[tuple[str, str], ...]:
    """(name, version) of Python, the platform and every distribution in :data:`VERSIONED` that is installed."""
    out = [("python", platform.python_version()), ("platform", platform.platform())]
    for name in VERSIONED:
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            out.append((name, "not installed"))
    return tuple(out)


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed (``nephrosim simulate s.yaml --report r.html``), shell-quoted."""
    argv = list(sys.argv if argv is None else argv)
    if argv:
        argv[0] = Path(argv[0]).name
    return shlex.join(argv)


def figure_data(fig, caption: str = "") -> Figure:
    """Embed a ``matplotlib.figure.Figure`` as a base64 PNG ``data:`` URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return Figure(caption, "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"))


def image_file_data(path: str | Path, caption: str = "") -> Figure:
    """Embed an image file written by another part of nephrosim (PNG or SVG)."""
    path = Path(path)
    mime = {".png": "image/png", ".svg": "image/svg+xml"}.get(path.suffix.lower())
    if mime is None:
        raise ValueError(f"cannot embed {path}: only .png and .svg images are embedded")
    return Figure(caption or path.stem.replace("_", " "),
                  f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii"))


def cell(value) -> str:
    """How a table cell prints: 4 significant digits, round-off noise (|x| < 1e-12) as 0, NaN as –."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return str(value)
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "–"
    if abs(x) < 1e-12:
        return "0"
    return f"{x:.4g}"


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="nephrosim {{ version }}">
<title>{{ report.title }}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto; max-width: 72em;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; border-bottom: 2px solid #456; padding-bottom: .2em; }
h2 { font-size: 1.25em; margin-top: 1.8em; color: #234; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: .88em; }
caption { text-align: left; font-weight: 600; padding: .3em 0; }
th, td { border: 1px solid #ccd; padding: .25em .55em; vertical-align: top; }
th { background: #eef1f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
pre { background: #f6f7f9; border: 1px solid #dde; padding: .8em; overflow-x: auto; font-size: .85em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #555; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .15em 1em; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; font-family: ui-monospace, monospace; font-size: .9em; word-break: break-all; }
footer { margin-top: 3em; font-size: .85em; color: #666; }
.markdown img { max-width: 100%; height: auto; }
.table-wrap, .markdown { overflow-x: auto; }
</style>
</head>
<body>
<h1>{{ report.title }}</h1>
<dl class="facts">
<dt>command</dt><dd>{{ report.command }}</dd>
{% for key, value in report.facts %}<dt>{{ key }}</dt><dd>{{ value }}</dd>
{% endfor %}<dt>date</dt><dd>{{ report.created }}</dd>
<dt>nephrosim</dt><dd>{{ version }}</dd>
</dl>
{% for section in report.sections %}
<section>
<h2>{{ section.heading }}</h2>
{% for text in section.paragraphs %}<p>{{ text }}</p>
{% endfor %}
{% for table in section.tables %}
<div class="table-wrap"><table>
{% if table.caption %}<caption>{{ table.caption }}</caption>{% endif %}
<thead><tr>{% for c in table.columns %}<th>{{ c }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in table.rows %}<tr>{% for v in row %}<td{% if v is number %} class="num"{% endif %}>{{ v | cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table></div>
{% endfor %}
{% for fig in section.figures %}
<figure><img src="{{ fig.data }}" alt="{{ fig.caption or section.heading }}">{% if fig.caption %}<figcaption>{{ fig.caption }}</figcaption>{% endif %}</figure>
{% endfor %}
{% for block in section.markdown %}<div class="markdown">{{ block | markdown_html }}</div>
{% endfor %}
{% for caption, text in section.preformatted %}
{% if caption %}<p><strong>{{ caption }}</strong></p>{% endif %}<pre>{{ text }}</pre>
{% endfor %}
</section>
{% endfor %}
<section>
<h2>Software</h2>
<table><thead><tr><th>package</th><th>version</th></tr></thead><tbody>
{% for name, v in report.versions %}<tr><td>{{ name }}</td><td>{{ v }}</td></tr>
{% endfor %}</tbody></table>
</section>
<footer>Written by nephrosim {{ version }}. Every number of the model is evidence or says it is not: see the
parameter provenance above and <code>nephrosim params</code>.</footer>
</body>
</html>
"""


def markdown_html(text: str):
    """Markdown (a report nephrosim wrote) as HTML, with raw HTML in the text escaped, never passed
    through (markdown-it-py, CommonMark with tables; links are restricted to safe schemes)."""
    from markdown_it import MarkdownIt
    from markupsafe import Markup

    return Markup(MarkdownIt("commonmark", {"html": False}).enable("table").render(text))


def render(report: Report) -> str:
    """The report as one HTML document (jinja2, autoescaped)."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=False)
    env.filters["cell"] = cell
    env.filters["markdown_html"] = markdown_html
    # numpy numbers are numbers too (right-aligned)
    env.tests["number"] = lambda v: not isinstance(v, bool) and _is_number(v)
    return env.from_string(_TEMPLATE).render(report=report, version=_version())


def _is_number(v) -> bool:
    import numbers

    return isinstance(v, numbers.Number)


def _version() -> str:
    try:
        return metadata.version("nephrosim")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "unknown (not installed)"


def write(report: Report, path: str | Path) -> Path:
    """Render ``report`` and write it to ``path`` atomically (complete or absent)."""
    from nephrosim.io import write_text_atomic

    write_text_atomic(path, render(report))
    return Path(path)


def check_report_path(path: str | Path) -> None:
    """Refuse a ``--report`` path before any work: it must end in ``.html`` and be writable."""
    from nephrosim.errors import UserInputError
    from nephrosim.io import check_writable

    if Path(path).suffix.lower() not in (".html", ".htm"):
        raise UserInputError(f"--report {path}: the report is one HTML file; give a name ending in .html")
    check_writable(path)
