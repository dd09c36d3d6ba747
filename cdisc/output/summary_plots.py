"""The summary's figures: a Kaplan-Meier plot per ADTTE parameter and a swimmer plot.

matplotlib draws on a bare ``Figure`` with the Agg canvas (no pyplot state, no
screen), inside matplotlib's default style with fixed fonts (the DejaVu Sans
matplotlib ships), sizes and DPI; the PNG carries no software or date stamp,
so the same input gives the same bytes. lifelines draws the curve, its CI
band, the censoring ticks and counts the number at risk.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from .summary import TIME_UNITS, SummaryOptions, landmark_adjective
from .summary_render import ci_method, median_text, rounded, time_text

#: fixed look of every figure
RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9.5,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "cdisc",
    "path.simplify": False,
}
CURVE = "#1f4e79"
#: best-response colours (colour-blind safe), bar fill and marker
RESPONSE_COLOURS = {
    "CR": "#2166ac",
    "PR": "#67a9cf",
    "SD": "#fdb863",
    "NON-CR/NON-PD": "#b2abd2",
    "PD": "#d6604d",
    "NE": "#8c8c8c",
}
RESPONSE_MARKERS = {"CR": "*", "PR": "^", "SD": "o", "NON-CR/NON-PD": "D", "PD": "s", "NE": "X"}
RESPONSE_NAMES = {"CR": "CR", "PR": "PR", "SD": "SD", "NON-CR/NON-PD": "Non-CR/non-PD",
                  "PD": "PD", "NE": "NE"}
OTHER_COLOUR = "#ffffff"  # no best response: an empty bar


def _png(fig: Any, dpi: int) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None},
                bbox_inches="tight", pad_inches=0.15)
    return buffer.getvalue()


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _style() -> Any:
    import matplotlib.style

    return matplotlib.style.context(["default", RC])


def time_ticks(longest: float, unit: str) -> np.ndarray:
    """Round tick positions from 0 past ``longest`` (in ``unit``), 4 to 9 intervals."""
    steps = {"years": (0.25, 0.5, 1, 2, 5, 10), "months": (0.25, 0.5, 1, 2, 3, 6, 12, 24),
             "weeks": (1, 2, 4, 8, 13, 26, 52),
             "days": (1, 2, 5, 7, 14, 30, 60, 90, 180, 365, 730)}[unit]
    longest = max(longest, 1e-9)
    fits = [s for s in steps if longest / s <= 9]
    step = fits[0] if fits else steps[-1] * math.ceil(longest / 9 / steps[-1])
    top = step * math.ceil(longest / step - 1e-9)
    return np.arange(0, top + step / 2, step, dtype=float)


def tick_labels(ticks: np.ndarray) -> list[str]:
    return [f"{t:g}" for t in ticks]


def km_plot(p: Any, figures: dict[str, Any], unit: str, options: SummaryOptions) -> bytes:
    """The PNG of :func:`km_figure`."""
    with _style():
        return _png(km_figure(p, figures, unit, options), options.dpi)


def km_figure(p: Any, figures: dict[str, Any], unit: str, options: SummaryOptions) -> Any:
    """Kaplan-Meier curve of one parameter with CI band, censor ticks and numbers at risk.

    The figures and the legend stand in a column right of the plot, where no
    curve can run under them; the number at risk is under the time axis, one
    count per tick (lifelines' ``add_at_risk_counts``).
    """
    from lifelines import KaplanMeierFitter
    from lifelines.plotting import add_at_risk_counts
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    scale = TIME_UNITS[unit]
    times = p.days / scale
    level = f"{options.confidence:.0%}"
    with _style():
        fig = _figure(8.6, 5.0)
        ax = fig.add_axes((0.10, 0.30, 0.60, 0.62))
        km = KaplanMeierFitter(alpha=1 - options.confidence, label=p.paramcd)
        km.fit(times, p.event)
        km.plot_survival_function(ax=ax, ci_show=True, ci_alpha=0.18, show_censors=True,
                                  censor_styles={"marker": "|", "ms": 9, "mew": 1.3},
                                  color=CURVE, linewidth=1.8, legend=False)
        ticks = time_ticks(float(times.max()) * 1.02, unit)  # room for a last censor tick
        ax.set_xlim(0, ticks[-1])
        ax.set_ylim(0, 1.02)
        ax.set_xticks(ticks)
        ax.set_xticklabels(tick_labels(ticks))
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_yticklabels([f"{v:.1f}" for v in np.linspace(0, 1, 6)])
        ax.grid(axis="y", color="#e6e6e6", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.set_ylabel(_probability_label(p.param))
        ax.set_xlabel(f"Time since {p.start} ({unit})" if p.start else f"Time ({unit})")
        ax.set_title(f"{p.param} ({p.paramcd})", loc="left", fontweight="bold")
        handles = [Line2D([], [], color=CURVE, linewidth=1.8, label="Kaplan-Meier estimate"),
                   Patch(facecolor=CURVE, alpha=0.18,
                         label=f"{level} pointwise CI\n(log(\u2212log))"),
                   Line2D([], [], color=CURVE, marker="|", linestyle="none", ms=9, mew=1.3,
                          label="Censored")]
        legend = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                           frameon=False, borderaxespad=0)
        # the figures go under the legend, whatever its height
        box = legend.get_window_extent(fig.canvas.get_renderer())
        below = ax.transAxes.inverted().transform((box.x0, box.y0))[1] - 0.06
        ax.text(1.04, below, "\n".join(_figure_lines(figures, unit, options)),
                transform=ax.transAxes, ha="left", va="top", fontsize=8.8, linespacing=1.45)
        add_at_risk_counts(km, ax=ax, fig=fig, rows_to_show=["At risk"], xticks=list(ticks),
                           ypos=-0.62)
        _tidy_at_risk(fig, ax)
        return fig


def _figure_lines(figures: dict[str, Any], unit: str, options: SummaryOptions) -> list[str]:
    """The figures printed beside the curve (the same rounding as the tables)."""
    level = f"{options.confidence:.0%}"
    point, ci = median_text(figures, unit, options.median_ci)
    method = ci_method(options.median_ci)
    lines = [f"N = {figures['n']}, events = {figures['events']}", "",
             f"Median: {point} {unit}" if point not in ("NR", "NE") else
             f"Median: {'not reached' if point == 'NR' else 'not estimable'}",
             f"  {level} CI {ci}", f"  ({method})"]
    for mark in figures.get("landmarks", []):
        lines.append("")
        if mark["estimable"]:
            lines += [f"{landmark_adjective(mark['landmark'])} rate: "
                      f"{rounded(mark['survival'])}%",
                      f"  {level} CI {rounded(mark['lower'])}\u2013{rounded(mark['upper'])}"]
        else:
            lines += [f"{landmark_adjective(mark['landmark'])} rate: not estimable"]
    fu = figures.get("follow_up") or {}
    if fu:
        lines += ["", f"Median follow-up: {time_text(fu['median_days'], unit)} {unit}",
                  "  (reverse Kaplan-Meier)"]
    return lines


def _probability_label(param: str) -> str:
    """'Overall survival probability'; 'Event-free probability' for other parameters."""
    words = param.strip()
    if "duration of response" in words.lower():
        return "Probability of remaining in response"
    if words.lower().endswith("survival") and len(words) <= 30:
        return f"{words[0].upper()}{words[1:].lower()} probability"
    return "Event-free probability"


def _tidy_at_risk(fig: Any, ax: Any) -> None:
    """Centre lifelines' numbers at risk under their ticks and put the row label at the left.

    lifelines writes the row name into the first tick's label and right-aligns
    every label at its tick; the counts are kept, only the layout changes.
    """
    ax2 = next(a for a in fig.axes if a is not ax)  # the twin axes lifelines added
    labels = []
    for label in ax2.get_xticklabels():
        lines = [line.strip() for line in label.get_text().split("\n") if line.strip()]
        labels.append(lines[-1].split()[-1] if lines else "")
    ax2.set_xticks(ax2.get_xticks())
    ax2.set_xticklabels(labels, ha="center", fontsize=9)
    kind, ypos = ax2.spines["bottom"].get_position()
    if kind != "axes":  # pragma: no cover - lifelines places the row in axes coordinates
        return
    ticks = ax2.xaxis.get_major_ticks()
    # a tick label's top is its tick's length plus its pad below the (hidden) axis line
    pad = ticks[0].get_pad() + ticks[0].get_tick_padding() if ticks else 7.0
    ax2.annotate("Number at risk", xy=(0, ypos), xycoords="axes fraction",
                 xytext=(-22, -pad), textcoords="offset points", ha="right", va="top",
                 fontsize=9, fontweight="bold")


def swimmer_plot(rows: list[dict[str, Any]], unit: str,
                 options: SummaryOptions) -> tuple[bytes, int, str]:
    """One bar per subject (treatment duration) with assessments, death and ongoing arrows."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rows, which = swimmer_subjects(rows, options.swimmer_max_subjects)
    scale = TIME_UNITS[unit]
    n = len(rows)
    with _style():
        fig = _figure(7.5, max(2.6, 1.5 + 0.32 * n))
        ax = fig.add_subplot(1, 1, 1)
        longest = max(max(r["treatment_days"], r["death_day"] or 0, r["last_alive_day"] or 0,
                          *(a["day"] for a in r["assessments"])) for r in rows) / scale
        ticks = time_ticks(longest * 1.06, unit)
        arrow = 0.035 * ticks[-1]
        seen: set[str] = set()
        for y, r in enumerate(rows):
            duration = r["treatment_days"] / scale
            bor = r["best_response"] or ""
            ax.barh(y, duration, height=0.62, color=_bar(RESPONSE_COLOURS.get(bor, OTHER_COLOUR)),
                    edgecolor="#555555", linewidth=0.6, zorder=2)
            end = max(r["death_day"] or 0, r["last_alive_day"] or 0) / scale
            if end > duration:
                ax.plot([duration, end], [y, y], color="#666666", linewidth=1.0,
                        linestyle=(0, (3, 2)), zorder=1)
            if r["ongoing"]:
                ax.annotate("", xy=(duration + arrow, y), xytext=(duration, y),
                            arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.4,
                                        "mutation_scale": 11}, zorder=4)
                seen.add("ongoing")
            for a in r["assessments"]:
                code = a["response"]
                ax.plot(a["day"] / scale, y, linestyle="none",
                        marker=RESPONSE_MARKERS.get(code, "o"),
                        ms=10 if code == "CR" else 6.5,
                        mfc=RESPONSE_COLOURS.get(code, OTHER_COLOUR), mec="black", mew=0.7,
                        zorder=5)
                seen.add(code)
            if r["death_day"] is not None:
                ax.plot(r["death_day"] / scale, y, linestyle="none", marker="X", ms=8,
                        mfc="black", mec="white", mew=0.5, zorder=6)
                seen.add("death")
        ax.set_yticks(range(n))
        ax.set_yticklabels([r["label"] for r in rows])
        ax.set_ylim(n - 0.5, -0.7)
        ax.set_xlim(0, ticks[-1])
        ax.set_xticks(ticks)
        ax.set_xticklabels(tick_labels(ticks))
        ax.grid(axis="x", color="#e6e6e6", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.set_xlabel(f"Time since first dose ({unit})")
        ax.set_ylabel("Subject")
        ax.set_title("Treatment duration and response", loc="left", fontweight="bold")
        bars = [Patch(facecolor=_bar(RESPONSE_COLOURS[c]), edgecolor="#555555", linewidth=0.6,
                      label=f"BOR: {RESPONSE_NAMES[c]}")
                for c in RESPONSE_COLOURS if any(r["best_response"] == c for r in rows)]
        if any((r["best_response"] or "") not in RESPONSE_COLOURS for r in rows):
            bars.append(Patch(facecolor=_bar(OTHER_COLOUR), edgecolor="#555555", linewidth=0.6,
                              label="BOR: missing/other"))
        marks = [Line2D([], [], linestyle="none", marker=RESPONSE_MARKERS[c],
                        ms=10 if c == "CR" else 6.5, mfc=RESPONSE_COLOURS[c], mec="black",
                        mew=0.7, label=f"Assessment: {RESPONSE_NAMES[c]}")
                 for c in RESPONSE_MARKERS if c in seen]
        if "death" in seen:
            marks.append(Line2D([], [], linestyle="none", marker="X", ms=8, mfc="black",
                                mec="white", label="Death"))
        if "ongoing" in seen:
            marks.append(Line2D([], [], color="black", marker=">", ms=6, lw=1.4,
                                label="Treatment ongoing"))
        if any(max(r["death_day"] or 0, r["last_alive_day"] or 0) > r["treatment_days"]
               for r in rows):
            marks.append(Line2D([], [], color="#666666", lw=1.0, linestyle=(0, (3, 2)),
                                label="Follow-up off treatment"))
        ax.legend(handles=bars + marks, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  frameon=False, borderaxespad=0)
        return _png(fig, options.dpi), n, which


def _bar(colour: str) -> tuple[float, float, float, float]:
    """A bar's fill: the response colour, lighter, so the assessment markers stand out."""
    from matplotlib.colors import to_rgba

    return to_rgba(colour, 0.55)


def swimmer_subjects(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], str]:
    """The bars drawn, longest treatment at the top, and which subjects they are.

    Up to ``limit`` subjects all are drawn; beyond it only those with a tumour
    assessment (the longest treatments when they are still too many, or when
    nobody has one).
    """
    ordered = sorted(rows, key=lambda r: (-r["treatment_days"], _natural(r["label"])))
    if len(ordered) <= limit:
        return ordered, "all treated subjects"
    assessed = [r for r in ordered if r["assessments"]]
    if assessed:
        return assessed[:limit], ("treated subjects with a tumour assessment" +
                                  (", longest treatment first" if len(assessed) > limit else ""))
    return ordered[:limit], "treated subjects with the longest treatment"


def _natural(text: str) -> tuple:
    from .summary import _sort_key

    return _sort_key(text)
