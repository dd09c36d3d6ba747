"""``validation.html``: the workbook's tables as one page that works offline.

One self-contained file (no server, no CDN, no fetch): the tables are plain
HTML, readable without scripts; a small inline script makes every table
sortable (click a column header) and filterable (a box or a list of values
under each header, ``=x`` for an exact value, and a search box per table), and
turns a Dataset Summary / Issue Summary / Rules row into a link to the matching
rows of the next table (an address such as ``#details?Source=AE&Rule%20ID=CV0306``,
which can be shared). Every text from the data is escaped (HTML special
characters, and control or bidi characters shown as ``\\x1b``-style escapes,
:func:`cdisc.text_safety.console_text`); no data goes into the script or into
an event attribute, and a Content-Security-Policy lets only the page's own
script (by its hash) run, so a value like ``<script>`` is text, twice over.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from ..text_safety import console_text, plain

if TYPE_CHECKING:
    from .report import Table

_NOWRAP_WIDTH = 20  # workbook column width up to which a column's text stays on one line
_SEVERITY_RANK = {"Reject": 0, "Error": 1, "Warning": 2, "Notice": 3}
# Links from a table's rows to the rows they sum up in another table: table ->
# (column holding the link, target table, ((column here, filtered column there), ...)).
_LINKS = {
    "Dataset Summary": ("Dataset", "issue-summary", (("Dataset", "Source"),)),
    "Issue Summary": ("Rule ID", "details", (("Source", "Source"), ("Rule ID", "Rule ID"))),
    "Rules": ("Rule ID", "details", (("Rule ID", "Rule ID"),)),
}

_CSS = """
:root { --head: #1f4e78; --line: #d0d7de; --zebra: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, Arial,
  sans-serif; color: #1f2328; background: #fff; }
header { background: var(--head); color: #fff; padding: 12px 20px 8px; position: sticky;
  top: 0; z-index: 3; }
header h1 { font-size: 18px; margin: 0 0 2px; }
header p { margin: 0 0 6px; opacity: .9; overflow-wrap: anywhere; }
nav a { color: #fff; margin-right: 14px; text-decoration: none; border-bottom: 1px solid
  rgba(255,255,255,.5); }
.badges { float: right; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 10px; margin-left: 6px;
  font-weight: 600; color: #1f2328; }
main { padding: 0 20px 40px; }
section { margin-top: 22px; scroll-margin-top: 96px; }
h2 { font-size: 16px; margin: 0 0 2px; color: var(--head); }
.note { margin: 0 0 6px; color: #57606a; }
.tools { margin: 4px 0 6px; display: flex; gap: 10px; align-items: center; }
.tools input { width: 280px; padding: 3px 6px; }
.count { color: #57606a; }
.scroll { max-height: 72vh; overflow: auto; border: 1px solid var(--line); }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid var(--line); padding: 3px 6px; text-align: left;
  vertical-align: top; white-space: pre-wrap; overflow-wrap: break-word; max-width: 70ch; }
thead { position: sticky; top: 0; z-index: 2; }
thead tr:first-child th { background: var(--head); color: #fff; cursor: pointer;
  user-select: none; white-space: nowrap; }
thead tr:first-child th:focus { outline: 2px solid #ffd33d; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
tr.filters th { background: #eaeef2; padding: 2px; }
tr.filters input, tr.filters select { width: 100%; min-width: 3em; font: inherit;
  padding: 1px 3px; }
tbody tr:nth-child(even) { background: var(--zebra); }
tbody tr:hover { background: #fff8c5; }
tr.group-start td { border-top: 2px solid #8c959f; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.nw { white-space: pre; }
table.sorted tr.group-start td { border-top: 1px solid var(--line); }
.sev-reject { background: #f4b6b6 !important; } .sev-error { background: #fad4d4 !important; }
.sev-warning { background: #fce9c2 !important; } .sev-notice { background: #dce9f7 !important; }
table.kv { width: auto; min-width: 0; }
table.kv th { background: var(--zebra); color: #1f2328; width: 160px; cursor: default; }
table.kv td.num { text-align: left; }
a.jump { color: #0550ae; }
button { font: inherit; }
@media print { header { position: static; } .scroll { max-height: none; overflow: visible; }
  .tools, tr.filters { display: none; } }
"""

_JS = """
(function () {
  "use strict";
  function key(cell) {
    var s = cell.getAttribute("data-sort");
    return s === null ? cell.textContent : s;
  }
  function setup(table) {
    var section = table.closest("section");
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    // each row's cell texts, read once (a filter reads them on every key stroke)
    var texts = rows.map(function (r, i) {
      r.dataset.i = i;
      return Array.prototype.map.call(r.cells, function (cell) { return cell.textContent; });
    });
    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var count = section.querySelector(".count");
    var search = section.querySelector("input.search");
    var filterRow = table.tHead.insertRow(-1);
    filterRow.className = "filters";
    var filters = heads.map(function (th, c) {
      var seen = {};
      texts.forEach(function (t) { seen[t[c]] = true; });
      var values = Object.keys(seen);
      var cell = document.createElement("th");
      filterRow.appendChild(cell);
      var el;
      if (values.length <= 30) {  // few values: pick one from a list
        el = document.createElement("select");
        el.appendChild(new Option("(all)", ""));
        values.sort(function (a, b) {
          var x = Number(a), y = Number(b);
          return a !== "" && b !== "" && !isNaN(x) && !isNaN(y) ? x - y : a.localeCompare(b);
        }).forEach(function (v) { el.appendChild(new Option(v === "" ? "(empty)" : v, "=" + v)); });
      } else {
        el = document.createElement("input");
        el.type = "search";
        el.size = 4;
        el.placeholder = "contains";
        el.title = "Rows whose " + th.textContent + " contains this text (=x: is exactly x)";
      }
      el.setAttribute("aria-label", "Filter " + th.textContent);
      el.addEventListener("input", apply);
      cell.appendChild(el);
      return el;
    });
    function apply() {
      var q = search.value.toLowerCase(), shown = 0;
      var active = [];
      filters.forEach(function (el, c) {
        var f = el.value.toLowerCase();
        if (f !== "") {
          active.push({ c: c, exact: f.charAt(0) === "=", f: f.replace(/^=/, "") });
        }
      });
      rows.forEach(function (r, i) {
        var t = texts[i];
        var ok = (!q || t.join("\t").toLowerCase().indexOf(q) >= 0) && active.every(function (a) {
          var v = t[a.c].toLowerCase();
          return a.exact ? v === a.f : v.indexOf(a.f) >= 0;
        });
        if (r.hidden === ok) { r.hidden = !ok; }
        if (ok) { shown += 1; }
      });
      count.textContent = shown + " of " + rows.length + " rows";
    }
    search.addEventListener("input", apply);
    section.querySelector("button.clear").addEventListener("click", function () {
      search.value = "";
      filters.forEach(function (el) { el.value = ""; });
      apply();
    });
    var sorted = { col: -1, dir: 1 };
    function sortBy(c) {
      var dir = sorted.col === c ? -sorted.dir : 1;
      sorted = { col: c, dir: dir };
      var keyed = rows.map(function (r) {
        var t = key(r.cells[c]);  // data-sort (severity rank) or the text
        return { r: r, t: t, n: t.trim() === "" ? NaN : Number(t), i: Number(r.dataset.i) };
      });
      keyed.sort(function (a, b) {
        if (a.t === "" || b.t === "") { return (a.t === "") - (b.t === "") || a.i - b.i; }
        var an = !isNaN(a.n), bn = !isNaN(b.n), d;
        if (an && bn) { d = a.n - b.n; } else if (an) { d = -1; } else if (bn) { d = 1; }
        else { d = a.t.localeCompare(b.t); }
        return d * dir || a.i - b.i;
      });
      var body = table.tBodies[0], frag = document.createDocumentFragment();
      keyed.forEach(function (k) { frag.appendChild(k.r); });
      body.appendChild(frag);
      table.classList.add("sorted");  // the source groups no longer follow each other
      heads.forEach(function (th, i) {
        if (i === c) { th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending"); }
        else { th.removeAttribute("aria-sort"); }
      });
    }
    heads.forEach(function (th, c) {
      th.tabIndex = 0;
      th.title = "Sort by " + th.textContent;
      th.addEventListener("click", function () { sortBy(c); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(c); }
      });
    });
    table.cdiscFilter = function (wanted) {
      search.value = "";
      heads.forEach(function (th, c) {
        var el = filters[c];
        el.value = "";
        if (Object.prototype.hasOwnProperty.call(wanted, th.textContent)) {
          el.value = "=" + wanted[th.textContent];
        }
      });
      apply();
    };
    apply();
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.grid"), setup);
  // #details?Source=AE&Rule%20ID=CV0306 shows the Details rows of AE and CV0306: the
  // links of the summary tables are such addresses, and they can be shared.
  function follow() {
    var hash = decodeURIComponent(location.hash.slice(1).split("?")[0]);
    var query = location.hash.indexOf("?") >= 0 ? location.hash.split("?").slice(1).join("?") : "";
    var target = hash && document.getElementById(hash);
    var table = target && target.querySelector("table.grid");
    if (!table || !query) { return; }
    var wanted = {};
    new URLSearchParams(query).forEach(function (v, k) { wanted[k] = v; });
    table.cdiscFilter(wanted);
    target.scrollIntoView();
  }
  window.addEventListener("hashchange", follow);
  Array.prototype.forEach.call(document.querySelectorAll("a.jump"), function (a) {
    // the same address again (filters changed by hand since) fires no hashchange
    a.addEventListener("click", function () {
      if (a.hash === location.hash) { follow(); }
    });
  });
  follow();
})();
"""


def _hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def esc(value: Any) -> str:
    """Text for HTML: control/bidi characters as visible escapes, then HTML-escaped."""
    if value is None:
        return ""
    return html.escape(console_text(str(plain(value))), quote=True)


def _cell(value: Any, *, severity: bool = False, link: str = "", nowrap: bool = False) -> str:
    value = plain(value)
    classes, sort = [], ""
    if severity and isinstance(value, str):
        classes.append(f"sev sev-{value.lower()}")
        sort = f' data-sort="{_SEVERITY_RANK.get(value, 9)}"'
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        classes.append("num")
    if nowrap:
        classes.append("nw")
    attrs = f' class="{esc(" ".join(classes))}"{sort}' if classes else ""
    content = esc(value)
    if link:
        content = f"{link}{content}</a>"
    return f"<td{attrs}>{content}</td>"


def _link(table: Table, row: list[Any]) -> tuple[int | None, str]:
    """The column that links to another table, and the opening ``<a>`` tag for ``row``."""
    spec = _LINKS.get(table.title)
    if spec is None:
        return None, ""
    column, target, pairs = spec
    index = {name: i for i, name in enumerate(table.header)}
    if any(index.get(here) is None for here in (column, *(h for h, _ in pairs))):
        return None, ""
    wanted = {there: "" if row[index[here]] is None else str(plain(row[index[here]]))
              for here, there in pairs}
    title = "Show the matching rows of " + target.replace("-", " ").title()
    address = f"#{target}?{urlencode(wanted, quote_via=quote)}"
    return index[column], f'<a class="jump" href="{esc(address)}" title="{esc(title)}">'



def _grid(table: Table) -> str:
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in table.header)
    body = []
    # codes, names, numbers (the narrow columns of the workbook) are not broken across lines
    nowrap = {i for i, width in enumerate(table.widths) if width <= _NOWRAP_WIDTH}
    previous: object = object()
    for n, row in enumerate(table.rows):
        cls = ""
        if table.group_column is not None:
            if n and row[table.group_column] != previous:
                cls = ' class="group-start"'
            previous = row[table.group_column]
        link_col, link = _link(table, row)
        cells = "".join(_cell(v, severity=(i == table.severity_column),
                              link=link if i == link_col else "", nowrap=i in nowrap)
                        for i, v in enumerate(row))
        body.append(f"<tr{cls}>{cells}</tr>")
    return (f'<div class="tools"><input class="search" type="search" placeholder="Search '
            f'{esc(table.title)}" aria-label="Search {esc(table.title)}">'
            f'<button class="clear" type="button">Clear filters</button>'
            f'<span class="count">{len(table.rows)} rows</span></div>'
            f'<div class="scroll"><table class="grid" id="table-{table.anchor}">'
            f"<thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _pairs(table: Table) -> str:
    rows = "".join(f'<tr><th scope="row">{esc(k)}</th>{_cell(v)}</tr>' for k, v in table.rows)
    return f'<table class="kv">{rows}</table>'


def render(title: str, subtitle: Sequence[str], tables: Sequence[Table],
           severity_counts: Sequence[tuple[str, int]]) -> str:
    """The whole page; ``tables`` as :func:`cdisc.validate.report.report_tables` makes them."""
    nav = "".join(f'<a href="#{t.anchor}">{esc(t.title)}</a>' for t in tables)
    badges = "".join(f'<span class="badge sev-{esc(label.lower())}">{esc(label)}s '
                     f"{count}</span>" for label, count in severity_counts)
    sections = []
    for t in tables:
        content = _grid(t) if t.filters else _pairs(t)
        sections.append(f'<section id="{t.anchor}"><h2>{esc(t.title)}</h2>'
                        f'<p class="note">{esc(t.note)}</p>{content}</section>')
    csp = (f"default-src 'none'; style-src '{_hash(_CSS)}'; script-src '{_hash(_JS)}'; "
           "img-src data:; base-uri 'none'; form-action 'none'")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head>\n<body>"
        f'<header><div class="badges">{badges}</div><h1>{esc(title)}</h1>'
        f"<p>{' · '.join(esc(s) for s in subtitle)}</p><nav>{nav}</nav></header>\n"
        f"<main>{''.join(sections)}</main>\n<script>{_JS}</script></body></html>\n")
