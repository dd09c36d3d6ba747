"""A synthetic study of N subjects, generated from a mapping spec (never committed).

The spec (default: the embedded PEComa example) says what to generate: its
``sources:`` give the files, columns, types, date formats, subject and key
columns; its ``visits:`` the visit names; the study CT maps (``study_ct:``) and
the CT codelists that ``assign_ct`` names give the collected values of coded
columns; the values conditions compare a column with (``equals``/``in``) are
used too; every other text column gets generated words. The shape of each
source per subject follows the example's six kinds of source, with the volumes
of issue 15 (per subject about 10 dosing records, 8 adverse events, 5 lesions x
6 assessments on treatment (and a baseline), 7 responses (one per assessment and
the best overall response), one disposition with survival); a source of
another kind gets one record per subject. Dates run from consent through
treatment, assessments and follow-up to death or last contact, all before the
spec's data cut-off. The study is consistent -- adverse events end before the
last contact with the outcome their end date says, the investigator's best
response is the one the assessments give -- so it converts and validates with
no finding, as a clean study does (``tests/test_benchmark_study.py``).
Everything is drawn with numpy from one seed, on whole columns, so 100,000
subjects take seconds.

    python benchmarks/synthetic.py 1000 /tmp/study    # writes /tmp/study/<spec>.yaml + data/
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ruamel.yaml import YAML

from cdisc import standards
from cdisc.resources import example_spec_path

EPOCH = np.datetime64("1970-01-01", "D")
MONTHS = np.array(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
                   "DEC"])


@dataclass(frozen=True)
class Volumes:
    dosing: int = 10
    adverse_events: int = 8
    lesions: int = 5  # 3 target, 2 non-target
    assessments: int = 6  # tumour assessments on treatment, each with a response; + baseline


class SpecFacts:
    """What the generator reads from the spec."""

    def __init__(self, spec_path: Path) -> None:
        yaml = YAML(typ="safe")
        self.raw: dict[str, Any] = yaml.load(spec_path.read_text(encoding="utf-8"))
        self.sources: dict[str, dict[str, Any]] = self.raw.get("sources", {})
        self.visits: dict[str, float] = self.raw.get("visits", {}) or {}
        cutoff = (self.raw.get("study") or {}).get("data_cutoff") or "2013-01-31"
        self.cutoff = np.datetime64(str(cutoff), "D")
        self.values: dict[tuple[str, str], list[str]] = {}
        study_ct = self.raw.get("study_ct", {}) or {}
        for source, column, node in self._column_uses():
            key = (source, column)
            codelist = node.get("codelist") if node.get("algorithm") == "assign_ct" else None
            if codelist in study_ct:
                self._add(key, [str(k) for k in (study_ct[codelist].get("map") or {})])
            elif codelist:
                try:
                    terms = [str(t) for t in standards.codelist(codelist).terms]
                except Exception:  # noqa: BLE001 - an unknown codelist: leave it to the words
                    terms = []
                self._add(key, terms[:12])
        for source, column, value in self._condition_values():
            self._add((source, column), [value])

    def _add(self, key: tuple[str, str], values: list[str]) -> None:
        known = self.values.setdefault(key, [])
        known.extend(v for v in values if v not in known)

    def _column_uses(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for domain in (self.raw.get("domains") or {}).values():
            for block in domain.get("records", []) or []:
                source = block.get("source")
                for section in ("map", "supp"):
                    for node in (block.get(section) or {}).values():
                        yield from self._walk(source, node)

    def _walk(self, source: str, node: object) -> Iterator[tuple[str, str, dict[str, Any]]]:
        if isinstance(node, dict):
            column = node.get("column")
            if isinstance(column, str):
                src, _, col = column.rpartition(".")
                yield (src or source), col, node
            for value in node.values():
                yield from self._walk(source, value)
        elif isinstance(node, list):
            for value in node:
                yield from self._walk(source, value)

    def _condition_values(self) -> Iterator[tuple[str, str, str]]:
        def walk(source: str, node: object) -> Iterator[tuple[str, str, str]]:
            if isinstance(node, dict):
                column = node.get("column")
                if isinstance(column, str):
                    src, _, col = column.rpartition(".")
                    for key in ("equals", "in"):
                        found = node.get(key)
                        for value in found if isinstance(found, list) else [found]:
                            if isinstance(value, str):
                                yield (src or source), col, value
                for value in node.values():
                    yield from walk(source, value)
            elif isinstance(node, list):
                for value in node:
                    yield from walk(source, value)

        for domain in (self.raw.get("domains") or {}).values():
            for block in domain.get("records", []) or []:
                yield from walk(block.get("source"), block)


class Generator:
    def __init__(self, facts: SpecFacts, subjects: int, seed: int, volumes: Volumes) -> None:
        self.facts = facts
        self.n = subjects
        self.rng = np.random.default_rng(seed)
        self.volumes = volumes
        # per subject timeline (days since 1970): consent, first dose, end of treatment, ...
        latest = facts.cutoff - np.timedelta64(3 * 365, "D")
        start = latest - np.timedelta64(6 * 365, "D")
        span = int((latest - start) / np.timedelta64(1, "D"))
        self.consent = (start - EPOCH).astype(int) + self.rng.integers(0, span, subjects)
        self.first_dose = self.consent + self.rng.integers(3, 21, subjects)
        self.ids = np.array([str(i) for i in range(1, subjects + 1)], dtype=object)
        visits = sorted(((v, k) for k, v in facts.visits.items()
                         if isinstance(v, (int, float)) and v > 0 and k.upper().startswith("WEEK")))
        self.week_visits = [k for _, k in visits]
        self.week_numbers = [v for v, _ in visits]
        self.follow_up = [k for k in facts.visits if k.upper().startswith("FOLLOW")]
        self.baseline = next((k for k, v in facts.visits.items() if v == 0), "BASELINE")

    # -- values --------------------------------------------------------------------------
    def choice(self, source: str, column: str, size: int, fallback: list[str]) -> np.ndarray:
        pool = self.facts.values.get((source, column)) or fallback
        return np.array(pool, dtype=object)[self.rng.integers(0, len(pool), size)]

    def pick(self, source: str, column: str, wanted: tuple[str, ...], default: str) -> str:
        """The collected value of ``column`` that means one of ``wanted`` (any case)."""
        return next((v for v in self.facts.values.get((source, column), [])
                     if v.lower() in wanted), default)

    def words(self, column: str, size: int, kinds: int = 40) -> np.ndarray:
        pool = np.array([f"{column.replace('_', ' ').title()} {k}" for k in range(kinds)],
                        dtype=object)
        return pool[self.rng.integers(0, kinds, size)]

    def dates(self, days: np.ndarray, fmt: str) -> np.ndarray:
        """Days since 1970 -> text in the spec's date format (DD-MMM-YYYY, YYYY, ...)."""
        stamp = EPOCH + days.astype("timedelta64[D]")
        text = pd.Series(stamp.astype("datetime64[D]").astype(str))
        year, month, day = text.str[0:4], text.str[5:7], text.str[8:10]
        out = fmt.replace("YYYY", "{Y}").replace("MMM", "{M}").replace("MM", "{m}")
        out = out.replace("DD", "{D}")
        mon = pd.Series(MONTHS[month.astype(int).to_numpy() - 1])
        parts = {"Y": year, "M": mon, "m": month, "D": day}
        result = pd.Series([""] * len(text), dtype=object)
        pieces = out.replace("}", "{").split("{")
        for i, piece in enumerate(pieces):
            result = result + (parts[piece] if i % 2 else piece)
        return result.to_numpy(dtype=object)

    def fill(self, source: str, frame: dict[str, Any], size: int) -> pd.DataFrame:
        """Every declared column of ``source``: what the recipe set, the rest generated."""
        out = {}
        for column, declared in (self.facts.sources[source].get("columns") or {}).items():
            if column in frame:
                out[column] = frame[column]
                continue
            kind = (declared or {}).get("type", "string")
            if kind == "date":
                days = np.repeat(self.consent, size // self.n) if size % self.n == 0 \
                    else self.rng.integers(int(self.consent.min()), int(self.consent.max()), size)
                out[column] = self.dates(days, declared.get("format", "YYYY-MM-DD"))
            elif kind in ("integer", "number"):
                out[column] = self.rng.integers(0, 5, size).astype(str)
            else:
                out[column] = self.choice(source, column, size, list(self.words(column, 40)))
        return pd.DataFrame(out)

    # -- sources -------------------------------------------------------------------------
    def per_subject(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Subject index and 0-based record number for ``count`` records per subject."""
        return np.repeat(np.arange(self.n), count), np.tile(np.arange(count), self.n)

    def subject_column(self, source: str) -> str:
        return self.facts.sources[source].get("subject") or "patient_id"

    def fmt(self, source: str, column: str) -> str:
        return (self.facts.sources[source]["columns"].get(column) or {}).get(
            "format", "DD-MMM-YYYY")

    def patients(self, source: str) -> pd.DataFrame:
        n, rng = self.n, self.rng
        age = rng.integers(18, 86, n)
        year = (EPOCH + self.consent.astype("timedelta64[D]")).astype("datetime64[Y]").astype(int)
        return self.fill(source, {
            self.subject_column(source): self.ids,
            "site_id": np.array([f"{k:02d}" for k in rng.integers(1, 21, n)], dtype=object),
            "age": age.astype(str),
            "birth_year": (1970 + year - age).astype(str),
            "consent_date": self.dates(self.consent, self.fmt(source, "consent_date")),
            "who_ps": rng.integers(0, 3, n).astype(str),
            "race": np.full(n, "", dtype=object),
            "country": np.full(n, "GBR", dtype=object),
            "prior_chemo_end_date": np.full(n, "", dtype=object),
            "assessable_for_response": np.full(n, self.pick(
                source, "assessable_for_response", ("yes", "y"), "Yes"), dtype=object),
            # every assessment is stable disease (see responses): so is the best response
            "best_response": np.full(n, self.pick(source, "best_response", ("stable disease",),
                                                  "Stable disease"), dtype=object),
            "treatment": self.choice(source, "treatment", n, ["Sirolimus"]),
        }, n)

    def dosing(self, source: str) -> pd.DataFrame:
        count = self.volumes.dosing
        subject, k = self.per_subject(count)
        length = self.rng.integers(14, 41, subject.size)
        gap = self.rng.integers(0, 8, subject.size)
        offset = np.cumsum((length + gap).reshape(self.n, count), axis=1).ravel() - length - gap
        start = self.first_dose[subject] + offset
        end = start + length - 1
        self.treatment_end = end.reshape(self.n, count)[:, -1]
        return self.fill(source, {
            self.subject_column(source): self.ids[subject],
            "dose": self.rng.choice(["3", "4", "5"], subject.size).astype(object),
            "start_date": self.dates(start, self.fmt(source, "start_date")),
            "end_date": self.dates(end, self.fmt(source, "end_date")),
            "ongoing_at_cutoff": np.full(subject.size, self.pick(source, "ongoing_at_cutoff",
                                                                  ("no", "n"), "No"),
                                         dtype=object),
            "reason_for_change": np.where(k == 0, "", "dose change").astype(object),
        }, subject.size)

    def toxicities(self, source: str) -> pd.DataFrame:
        count = self.volumes.adverse_events
        subject, _ = self.per_subject(count)
        span = np.maximum(self.treatment_end - self.first_dose, 1)[subject]
        onset = self.first_dose[subject] + (self.rng.random(subject.size) * span).astype(int)
        # resolved before the subject's last contact (or death), with the outcome that
        # says so; one event in seven is still ongoing: no end date, not resolved
        resolution = np.minimum(onset + self.rng.integers(1, 60, subject.size),
                                self.last_contact[subject])
        ongoing = self.rng.random(subject.size) < 1 / 7
        outcome = np.where(
            ongoing, self.pick(source, "outcome", ("not recovered/not resolved",),
                               "Not recovered/not resolved"),
            self.pick(source, "outcome", ("recovered/resolved",), "Recovered/resolved"))
        serious = self.choice(source, "serious", subject.size, ["No"])
        yes = self.pick(source, "serious", ("yes", "y"), "Yes")
        terms = np.array(["Mucositis oral", "Anemia", "Fatigue", "Rash maculo-papular",
                          "Hypercholesterolemia", "Hyperglycemia", "Pneumonitis", "Diarrhea",
                          "Nausea", "Thrombocytopenia"], dtype=object)
        return self.fill(source, {
            self.subject_column(source): self.ids[subject],
            "ae_term": terms[self.rng.integers(0, len(terms), subject.size)],
            "grade": self.rng.integers(1, 5, subject.size).astype(str),
            "onset_date": self.dates(onset, self.fmt(source, "onset_date")),
            "resolution_date": np.where(ongoing, "", self.dates(
                resolution, self.fmt(source, "resolution_date"))).astype(object),
            "outcome": outcome.astype(object),
            "serious": serious,
            "hospitalised": np.where(serious == yes, yes, "").astype(object),
            "related": self.rng.choice(["Related", "Not related"], subject.size).astype(object),
        }, subject.size)

    @property
    def last_contact(self) -> np.ndarray:
        """Each subject's last contact (the death date of those who died): after the end
        of treatment, before the data cut-off."""
        if not hasattr(self, "_last_contact"):
            end = getattr(self, "treatment_end", self.first_dose + 300)
            self._last_contact = np.minimum(end + self.rng.integers(10, 500, self.n),
                                            (self.facts.cutoff - EPOCH).astype(int))
        return self._last_contact

    def disposition(self, source: str) -> pd.DataFrame:
        n = self.n
        end = getattr(self, "treatment_end", self.first_dose + 300)
        last = self.last_contact
        dead = self.rng.random(n) < 0.4
        reasons = self.choice(source, "end_of_treatment_reason", n, ["Progressive disease"])
        return self.fill(source, {
            self.subject_column(source): self.ids,
            "treatment_end_date": self.dates(end, self.fmt(source, "treatment_end_date")),
            "end_of_treatment_reason": reasons,
            "last_contact_date": self.dates(last, self.fmt(source, "last_contact_date")),
            "death_date": np.where(dead, self.dates(last, self.fmt(source, "death_date")),
                                   "").astype(object),
            "death_cause": np.where(dead, "Progressive disease", "").astype(object),
            "subsequent_therapy": np.full(n, "", dtype=object),
        }, n)

    def _assessment_days(self) -> tuple[list[str], np.ndarray]:
        on_treatment = self.volumes.assessments
        visits = [self.baseline, *self.week_visits[:on_treatment]]
        weeks = np.array([0, *self.week_numbers[:on_treatment]], dtype=int)
        days = self.first_dose[:, None] + weeks[None, :] * 7
        days[:, 0] = self.first_dose - 2
        return visits, days

    def tumour_measurements(self, source: str) -> pd.DataFrame:
        visits, days = self._assessment_days()
        lesions = self.volumes.lesions
        targets = max(1, lesions - 2)
        n_visits = len(visits)
        subject = np.repeat(np.arange(self.n), n_visits * lesions)
        visit = np.tile(np.repeat(np.arange(n_visits), lesions), self.n)
        lesion = np.tile(np.arange(lesions), self.n * n_visits)
        target = lesion < targets
        ids = np.array([f"T{i + 1:02d}" if i < targets else f"NT{i - targets + 1:02d}"
                        for i in range(lesions)], dtype=object)
        baseline = self.rng.integers(15, 80, (self.n, lesions))
        change = 1 + self.rng.uniform(-0.08, 0.08, (self.n, n_visits, lesions))
        diameter = np.round(baseline[:, None, :] * change).astype(int).ravel()
        roles = self.facts.values.get((source, "lesion_type"), ["Target", "Non-target"])
        target_word = next((r for r in roles if r.lower() == "target"), roles[0])
        other_word = next((r for r in roles if r.lower().startswith("non")), roles[-1])
        present = self.pick(source, "status", ("present",), "Present")
        where = np.array(["LIVER", "LUNG", "PERITONEUM", "LYMPH NODE", "UTERUS"], dtype=object)
        place = where[self.rng.integers(0, len(where), (self.n, lesions))][:, None, :]
        place = np.broadcast_to(place, (self.n, n_visits, lesions)).ravel()
        return self.fill(source, {
            self.subject_column(source): self.ids[subject],
            "visit": np.array(visits, dtype=object)[visit],
            "assessment_date": self.dates(days[subject, visit], self.fmt(source,
                                                                         "assessment_date")),
            "lesion_id": ids[lesion],
            "lesion_type": np.where(target, target_word, other_word).astype(object),
            "location": place,
            "laterality": np.full(subject.size, "", dtype=object),
            "method": self.choice(source, "method", 1, ["CT"]).repeat(subject.size),
            "diameter_mm": np.where(target, diameter.astype(str), "").astype(object),
            "status": np.where(target, "", present).astype(object),
        }, subject.size)

    def responses(self, source: str) -> pd.DataFrame:
        """One investigator response per assessment on treatment (the spec adds the best
        overall response from the patients' source)."""
        visits, days = self._assessment_days()
        names = np.array(visits[1:], dtype=object)
        subject, k = self.per_subject(len(names))
        stable = self.pick(source, "overall_response", ("stable disease",), "Stable disease")
        non = self.pick(source, "non_target_response", ("non-cr/non-pd",), stable)
        no = self.pick(source, "new_lesions", ("no", "n"), "No")
        return self.fill(source, {
            self.subject_column(source): self.ids[subject],
            "visit": names[k],
            "assessment_date": self.dates(days[subject, k + 1], self.fmt(source,
                                                                         "assessment_date")),
            "target_response": np.full(subject.size, stable, dtype=object),
            "non_target_response": np.full(subject.size, non, dtype=object),
            "new_lesions": np.full(subject.size, no, dtype=object),
            "overall_response": np.full(subject.size, stable, dtype=object),
        }, subject.size)

    def generic(self, source: str) -> pd.DataFrame:
        return self.fill(source, {self.subject_column(source): self.ids}, self.n)


#: the example's kinds of source, in the order their dates depend on each other
RECIPES = ("patients", "dosing", "toxicities", "disposition", "tumour_measurements", "responses")


def generate(subjects: int, folder: Path, *, spec: Path | None = None, seed: int = 15,
             volumes: Volumes = Volumes()) -> tuple[Path, int, int]:
    """Write the spec and N subjects' source files into ``folder``; (spec path, source
    records, source bytes)."""
    spec = spec or example_spec_path()
    facts = SpecFacts(spec)
    gen = Generator(facts, subjects, seed, volumes)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / spec.name
    shutil.copyfile(spec, target)
    order = [s for s in RECIPES if s in facts.sources] + [s for s in facts.sources
                                                           if s not in RECIPES]
    records = size = 0
    for source in order:
        frame = getattr(gen, source)(source) if source in RECIPES else gen.generic(source)
        path = folder / facts.sources[source]["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False)
        records += len(frame)
        size += path.stat().st_size
    return target, records, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("subjects", type=int)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--spec", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    spec, records, size = generate(args.subjects, args.folder, spec=args.spec, seed=args.seed)
    print(f"{spec}: {records} source records, {size / 1e6:.1f} MB ({date.today()})")


if __name__ == "__main__":
    main()
