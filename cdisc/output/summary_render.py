"""The summary as a page: HTML (plain, self-contained, escaped) and Markdown.

Both are made from the JSON-ready dict of :func:`cdisc.output.summary.summarize`
(with ``title`` and, once the plots are written, their file names), so the
page shows exactly the figures of ``summary.json``. Numbers are rounded half
up, as papers (and SPSS) round them; nothing depends on the clock.
"""

from __future__ import annotations

import base64
import html
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .summary import TIME_UNITS, landmark_adjective

#: decimals a time is shown with, per unit
TIME_DECIMALS = {"days": 0, "weeks": 1, "months": 1, "years": 1}


def rounded(x: float | None, decimals: int = 1) -> str:
    """``x`` rounded half up (78.75 -> '78.8'); '' for None."""
    if x is None:
        return ""
    step = Decimal(1).scaleb(-decimals) if decimals else Decimal(1)
    return str(Decimal(repr(float(x))).quantize(step, rounding=ROUND_HALF_UP))


def plain(x: float | None, decimals: int = 1) -> str:
    """Like :func:`rounded`, without a trailing '.0' (128.0 -> '128', 187.5 -> '187.5')."""
    text = rounded(x, decimals)
    return text[:-2] if decimals == 1 and text.endswith(".0") else text


def in_unit(days: float | None, unit: str) -> float | None:
    return None if days is None else days / TIME_UNITS[unit]


def time_text(days: float | None, unit: str, missing: str = "NR") -> str:
    """A time in days shown in ``unit`` ('2.4'); ``missing`` when there is none."""
    if days is None:
        return missing
    return rounded(in_unit(days, unit), TIME_DECIMALS[unit])


def median_text(tte: dict[str, Any], unit: str, which: str) -> tuple[str, str]:
    """('2.4', '0.3–4.5') for the median and the chosen CI (which = 'loglog' / 'spss').

    NR: not reached (the curve, or the CI band, stays above 0.5); NE: not
    estimable (the SPSS interval needs an event time with S <= 0.45).
    """
    median = tte.get("median")
    if not median:
        return "NE", "NE"
    point = time_text(median["days"], unit) if median["reached"] else "NR"
    if which == "spss":
        ci = median["ci_spss"]
        if ci["se_days"] is None:
            return point, "NE"
        return point, (f"{time_text(ci['lower_days'], unit)}\u2013"
                       f"{time_text(ci['upper_days'], unit)}")
    ci = median["ci"]
    return point, (f"{time_text(ci['lower_days'], unit, 'NR')}\u2013"
                   f"{time_text(ci['upper_days'], unit, 'NR')}")


def ci_method(which: str) -> str:
    return "SPSS, median \u00b1 z\u00b7SE" if which == "spss" else "log(\u2212log)"


def landmark_text(mark: dict[str, Any]) -> str:
    if not mark["estimable"]:
        return "NE"
    return (f"{rounded(mark['survival'])}% ({rounded(mark['lower'])}\u2013"
            f"{rounded(mark['upper'])})")


def follow_up_text(tte: dict[str, Any], unit: str) -> str:
    fu = tte.get("follow_up")
    if not fu:
        return "NE"
    return time_text(fu["median_days"], unit) if fu["reached"] else "NR"


def _ci_label(result: dict[str, Any]) -> str:
    o = result["options"]
    level = f"{o['confidence']:.0%}"
    return f"{level} CI" + (" (SPSS: median \u00b1 z\u00b7SE)" if o["median_ci"] == "spss"
                            else " (log(\u2212log))")


# ------------------------------------------------------------------------------ tables


def tte_table(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    o = result["options"]
    unit = o["time_unit_shown"]
    level = f"{o['confidence']:.0%}"
    marks = [landmark_adjective(m) for m in o["landmarks"]]
    head = ["Parameter", "N", "Events", "Censored", f"Median ({unit})", _ci_label(result)]
    head += [f"{m} rate, % ({level} CI)" for m in marks]
    head += [f"Median follow-up ({unit}, reverse KM)"]
    rows = []
    for tte in result["time_to_event"]:
        point, ci = median_text(tte, unit, o["median_ci"])
        row = [f"{tte['param']} ({tte['paramcd']})", str(tte["n"]), str(tte["events"]),
               str(tte["censored"]), point, ci]
        row += [landmark_text(m) for m in tte.get("landmarks", [])] or ["NE"] * len(marks)
        row += [follow_up_text(tte, unit)]
        rows.append(row)
    return head, rows


def response_tables(result: dict[str, Any]) -> tuple[list[list[str]], list[list[str]]]:
    r = result["response"]
    counts = [[c["label"], str(c["n"]), rounded(c["percent"])] for c in r["categories"]]
    counts.append(["Total", str(r["n"]), "100.0" if r["n"] else ""])
    rates = []
    for rate in r["rates"]:
        ci = rate["ci"]
        rates.append([rate["label"], f"{rate['responders']}/{rate['n']}",
                      rounded(rate["percent"]),
                      f"{rounded(ci['lower'])}\u2013{rounded(ci['upper'])}" if ci else ""])
    return counts, rates


def duration_rows(result: dict[str, Any]) -> list[list[str]]:
    d = result["treatment_duration"]
    rows = [["Subjects", str(d["n"])],
            ["Median (days)", plain(d["median"])],
            ["Range (days)", f"{plain(d['min'])}\u2013{plain(d['max'])}"],
            ["Mean (SD) (days)", f"{plain(d['mean'])} ({rounded(d['sd'])})"
             if d["sd"] is not None else plain(d["mean"])]]
    if d["missing"]:
        rows.append(["Missing", str(d["missing"])])
    if d["ongoing"] is not None:
        rows.append([f"Still on treatment ({d['ongoing_source']})", str(d["ongoing"])])
    return rows


# -------------------------------------------------------------------------------- HTML

CSS = """
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; color: #222; margin: 2em auto;
       max-width: 60em; padding: 0 1em; line-height: 1.4; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border-top: 1px solid #ddd; border-bottom: 1px solid #ddd; padding: 0.3em 0.7em;
         text-align: right; vertical-align: top; }
th { background: #f3f3f3; }
td { white-space: nowrap; }
th:first-child, td:first-child { text-align: left; white-space: normal; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, .note { font-size: 0.88em; color: #555; }
ul.methods { font-size: 0.88em; color: #444; }
"""


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _html_table(head: list[str] | None, rows: list[list[str]]) -> str:
    out = ["<table>"]
    if head:
        out.append("<thead><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in head) +
                   "</tr></thead>")
    out.append("<tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _img(name: str, alt: str, embedded: dict[str, bytes] | None, key: str) -> str:
    if embedded is not None and key in embedded:
        src = "data:image/png;base64," + base64.b64encode(embedded[key]).decode("ascii")
    else:
        src = name
    return f'<img src="{_esc(src)}" alt="{_esc(alt)}">'


def render_html(result: dict[str, Any], embedded: dict[str, bytes] | None = None) -> str:
    """The page; images linked by relative name, or inlined as base64 when ``embedded``."""
    o = result["options"]
    unit = o["time_unit_shown"]
    m = result["methods"]
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>{_esc(result['title'])}</title>", f"<style>{CSS}</style>", "</head>",
             "<body>", f"<h1>{_esc(result['title'])}</h1>",
             f'<p class="note">Analysis population: {_esc(result["population"])}. '
             f"Times in {_esc(unit)}.</p>"]
    if result["time_to_event"]:
        head, rows = tte_table(result)
        parts += ["<h2>Time to event</h2>", _html_table(head, rows)]
        for tte in result["time_to_event"]:
            if "plot" not in tte:
                continue
            point, ci = median_text(tte, unit, o["median_ci"])
            median = {"NR": "not reached", "NE": "not estimable"}.get(point, f"{point} {unit}")
            caption = (f"{tte['param']}: Kaplan-Meier estimate with {o['confidence']:.0%} "
                       "pointwise CI (log(\u2212log)); tick marks are censored subjects; "
                       f"number at risk below the axis. N = {tte['n']}, {tte['events']} "
                       f"events; median {median}, {o['confidence']:.0%} CI {ci} "
                       f"({ci_method(o['median_ci'])}).")
            parts.append(f"<figure>{_img(tte['plot'], tte['param'], embedded, tte['paramcd'])}"
                         f"<figcaption>{_esc(caption)}</figcaption></figure>")
    if result["response"]:
        r = result["response"]
        counts, rates = response_tables(result)
        parts += ["<h2>Best overall response</h2>",
                  f'<p class="note">ADRS PARAMCD {_esc(r["paramcd"])} '
                  f"({_esc(r['param'])}); denominator: {_esc(r['population'])}, "
                  f"N = {r['n']}.</p>",
                  _html_table(["Best overall response", "n", "%"], counts),
                  _html_table(["Rate", "n/N", "%", f"{o['confidence']:.0%} CI (exact)"],
                              rates)]
    if result["treatment_duration"]:
        d = result["treatment_duration"]
        parts += ["<h2>Treatment duration</h2>",
                  f'<p class="note">From ADSL {_esc(d["variable"])}.</p>',
                  _html_table(None, duration_rows(result))]
    if result.get("swimmer_plot"):
        s = result["swimmer_plot"]
        shown = ("" if s["subjects_shown"] == s["subjects"]
                 else f" {s['subjects_shown']} of {s['subjects']} subjects shown: "
                      f"{s['selection']}.")
        caption = ("Treatment duration per subject (bar, coloured by best overall response), "
                   "tumour assessments (markers), follow-up after treatment (thin line), "
                   "death, and treatment ongoing at the cut-off (arrow)." + shown)
        parts += ["<h2>Swimmer plot</h2>",
                  f"<figure>{_img(s['file'], 'swimmer plot', embedded, 'swimmer')}"
                  f"<figcaption>{_esc(caption)}</figcaption></figure>"]
    parts += ["<h2>Methods</h2>", '<ul class="methods">']
    parts += [f"<li>{_esc(text)}</li>" for text in m.values()]
    parts.append("</ul>")
    if result["notes"]:
        parts += ["<h2>Notes</h2>", "<ul>"]
        parts += [f"<li>{_esc(n)}</li>" for n in result["notes"]]
        parts.append("</ul>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


# ---------------------------------------------------------------------------- Markdown

#: characters that would start Markdown emphasis, code, links, HTML or a table cell
_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|"})


def _md(text: Any) -> str:
    return str(text).translate(_MD_SPECIAL).replace("\n", " ")


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(_md(h) for h in head) + " |",
           "|" + "|".join(":--" if i == 0 else "--:" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def render_markdown(result: dict[str, Any]) -> str:
    o = result["options"]
    unit = o["time_unit_shown"]
    out = [f"# {_md(result['title'])}", "",
           f"Analysis population: {_md(result['population'])}. Times in {unit}.", ""]
    if result["time_to_event"]:
        head, rows = tte_table(result)
        out += ["## Time to event", "", *_md_table(head, rows)]
        for tte in result["time_to_event"]:
            if "plot" in tte:
                out += [f"![{_md(tte['param'])}]({tte['plot']})", ""]
    if result["response"]:
        r = result["response"]
        counts, rates = response_tables(result)
        out += ["## Best overall response", "",
                f"ADRS PARAMCD {_md(r['paramcd'])} ({_md(r['param'])}); denominator: "
                f"{_md(r['population'])}, N = {r['n']}.", "",
                *_md_table(["Best overall response", "n", "%"], counts),
                *_md_table(["Rate", "n/N", "%", f"{o['confidence']:.0%} CI (exact)"], rates)]
    if result["treatment_duration"]:
        out += ["## Treatment duration", "",
                *_md_table(["", f"ADSL {result['treatment_duration']['variable']}"],
                           duration_rows(result))]
    if result.get("swimmer_plot"):
        out += ["## Swimmer plot", "", f"![swimmer plot]({result['swimmer_plot']['file']})", ""]
    out += ["## Methods", ""]
    out += [f"- {_md(text)}" for text in result["methods"].values()]
    if result["notes"]:
        out += ["", "## Notes", ""]
        out += [f"- {_md(n)}" for n in result["notes"]]
    return "\n".join(out) + "\n"
