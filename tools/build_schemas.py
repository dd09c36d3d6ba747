"""Generate the shipped JSON Schemas and CT from the maintained tables in schemas/metadata/.

The three tables are the place to edit standards facts:

* ``datasets.csv``  - one row per supported dataset (label, class, structure, keys);
* ``variables.csv`` - one row per variable, in IG order per dataset;
* ``codelists.tsv`` - the controlled-terminology subset, one row per codelist or term.

This script turns them into ``schemas/sdtm/*.schema.json``,
``schemas/adam/*.schema.json`` and ``schemas/ct/controlled-terminology.json``,
which is what the product reads at run time (``cdisc.standards``). Output is
byte-for-byte deterministic so a test can regenerate it and compare.

Usage::

    python tools/build_schemas.py            # rewrite the generated files
    python tools/build_schemas.py --check    # exit 1 when they are out of date
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
METADATA = SCHEMAS / "metadata"

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# SDTMIG 3.4 section 4.2.1 / FDA transport: character values are at most 200 bytes.
CHAR_MAX_LENGTH = 200
FOLDERS = {"SDTMIG": "sdtm", "ADaMIG": "adam"}
CT_FILE = Path("ct") / "controlled-terminology.json"

# --- ISO 8601 ----------------------------------------------------------------
# Extended format, right-truncated for partial values (SDTMIG 3.4 section 4.4.2):
# 2012, 2012-07, 2012-07-15, 2012-07-15T10, ...T10:30, ...T10:30:00(.fff), with
# an optional UTC offset after a time. A regex cannot know month lengths, so
# 2012-02-30 passes here; calendar validity is the date converter's job.
# SDTM's dash placeholders for missing middle parts (2012---15) are not supported.
_TIME = (
    r"(?:T(?:[01]\d|2[0-3])(?::[0-5]\d(?::[0-5]\d(?:\.\d+)?)?)?"
    r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?)"
)
_DATETIME = rf"\d{{4}}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]){_TIME}?)?)?"
# PnW, or PnYnMnDTnHnMnS with at least one component (the lookaheads forbid a
# bare "P" or "PT"). A leading "-" is SDTM's convention for --ELTM/--EVLINT
# before the reference point (e.g. -P2M), not ISO 8601 proper.
_NUM = r"\d+(?:\.\d+)?"
_DURATION = (
    rf"-?P(?:{_NUM}W|(?=\d|T\d)(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}D)?"
    rf"(?:T(?=\d)(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?)"
)
# "$(?!\n)": jsonschema runs Python's re.search, whose "$" also matches before a
# final newline; the lookahead keeps "2012\n" out and is a no-op in ECMA-262.
ISO8601 = {
    # --DTC: "ISO 8601 datetime or interval" in SDTMIG 3.4, so start/end,
    # start/duration and duration/end intervals are accepted as well.
    "datetime": (
        rf"^(?:{_DATETIME}(?:/(?:{_DATETIME}|{_DURATION}))?|{_DURATION}/{_DATETIME})$(?!\n)"
    ),
    "duration": rf"^{_DURATION}$(?!\n)",
}

# ADaMIG placeholders in variable names: xx/zz = 01-99, y/w = 1-9.
_PLACEHOLDERS = {
    "xx": "(?:0[1-9]|[1-9][0-9])",
    "zz": "(?:0[1-9]|[1-9][0-9])",
    "y": "[1-9]",
    "w": "[1-9]",
}
_PLACEHOLDER_RE = re.compile("|".join(_PLACEHOLDERS))
# ADaMIG 1.3 section 2.3.1: up to 8 characters, letters, digits and underscore.
ADAM_NAME = r"^[A-Z][A-Z0-9_]{0,7}$(?!\n)"
SDTM_NAME = re.compile(r"[A-Z][A-Z0-9]{0,7}")

CORES = {"SDTMIG": {"Req", "Exp", "Perm"}, "ADaMIG": {"Req", "Cond", "Perm"}}


class MetadataError(ValueError):
    """A maintained table breaks a rule the generated schemas rely on."""


@dataclass(frozen=True)
class Term:
    code: str
    submission_value: str
    synonyms: tuple[str, ...]
    preferred_term: str


@dataclass(frozen=True)
class CodelistRow:
    code: str
    short_name: str
    name: str
    extensible: bool
    source: str
    version: str
    terms: tuple[Term, ...]


def read_table(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


def _split_source(source: str) -> tuple[str, str]:
    """``"SDTM CT 2025-03-28"`` -> ``("SDTM CT", "2025-03-28")``."""
    name, _, version = source.rpartition(" ")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", version):
        raise MetadataError(f"codelists.tsv: source {source!r} does not end with a date")
    return name, version


def load_codelists(rows: list[dict[str, str]]) -> dict[str, CodelistRow]:
    heads = {r["code"]: r for r in rows if not r["codelist_code"]}
    terms: dict[str, list[Term]] = {code: [] for code in heads}
    for r in rows:
        parent = r["codelist_code"]
        if not parent:
            continue
        if parent not in terms:
            raise MetadataError(f"codelists.tsv: term {r['code']} names unknown codelist {parent}")
        synonyms = tuple(s.strip() for s in r["synonyms"].split(";") if s.strip())
        terms[parent].append(Term(r["code"], r["submission_value"], synonyms, r["preferred_term"]))
    out: dict[str, CodelistRow] = {}
    short_names: set[str] = set()
    for code, head in heads.items():
        values = [t.submission_value for t in terms[code]]
        if len(set(values)) != len(values):
            raise MetadataError(f"codelists.tsv: {code} repeats a submission value")
        if head["submission_value"] in short_names:
            raise MetadataError(f"codelists.tsv: short name {head['submission_value']} repeats")
        short_names.add(head["submission_value"])
        if head["extensible"] not in ("Yes", "No"):
            raise MetadataError(f"codelists.tsv: {code} extensible must be Yes or No")
        source, version = _split_source(head["source"])
        out[code] = CodelistRow(
            code=code,
            short_name=head["submission_value"],
            name=head["codelist_name"],
            extensible=head["extensible"] == "Yes",
            source=source,
            version=version,
            terms=tuple(terms[code]),
        )
    return out


def _check_variables(ds: dict[str, str], variables: list[dict[str, str]]) -> None:
    name = ds["name"]
    if not variables:
        raise MetadataError(f"variables.csv: no variables for {name}")
    orders = [int(v["order"]) for v in variables]
    if orders != list(range(1, len(variables) + 1)):
        raise MetadataError(f"variables.csv: {name} orders are not 1..{len(variables)}")
    names = [v["name"] for v in variables]
    if len(set(names)) != len(names):
        raise MetadataError(f"variables.csv: {name} repeats a variable name")
    for v in variables:
        where = f"variables.csv: {name}.{v['name']}"
        if not SDTM_NAME.fullmatch(v["name"]):
            raise MetadataError(f"{where}: not an XPT v5 variable name")
        if len(v["label"]) > 40:
            raise MetadataError(f"{where}: label longer than 40 characters")
        if v["datatype"] not in ("Char", "Num"):
            raise MetadataError(f"{where}: datatype must be Char or Num")
        if v["core"] not in CORES[ds["standard"]]:
            raise MetadataError(
                f"{where}: core {v['core']!r} is not one of {sorted(CORES[ds['standard']])}"
            )
        if v["pattern"] and v["pattern"] not in ISO8601:
            raise MetadataError(f"{where}: pattern must be one of {sorted(ISO8601)}")
        if v["codelist"] and v["codelist"] not in v["codelists"].split():
            raise MetadataError(f"{where}: codelist is not listed in codelists")
    missing = [k for k in ds["keys"].split() if k not in names]
    if missing:
        raise MetadataError(f"datasets.csv: keys of {name} are not variables: {missing}")


def _value_list(v: dict[str, str]) -> list[Any]:
    values = [s.strip() for s in v["value_list"].split(";") if s.strip()]
    if v["datatype"] == "Num":
        return [int(x) if re.fullmatch(r"-?\d+", x) else float(x) for x in values]
    return values


def variable_property(v: dict[str, str], codelists: dict[str, CodelistRow]) -> dict[str, Any]:
    char = v["datatype"] == "Char"
    cl = codelists.get(v["codelist"])
    prop: dict[str, Any] = {
        "title": v["label"],
        "type": ["string", "null"] if char else ["number", "null"],
    }
    if char:
        # a shorter IG limit (ARMCD 20, --TESTCD 8, --TEST 40) where the table gives one
        prop["maxLength"] = int(v["max_length"]) if v.get("max_length") else CHAR_MAX_LENGTH
    if v["pattern"]:
        prop["pattern"] = ISO8601[v["pattern"]]
    # A value list in the IG (DOMAIN = "DM", population flags Y/N) is narrower
    # than any codelist; otherwise only a closed codelist limits the values.
    values = _value_list(v)
    if not values and cl is not None and not cl.extensible:
        values = [t.submission_value for t in cl.terms]
    if values:
        prop["enum"] = [*values, None]
    prop["x-cdisc"] = {
        "order": int(v["order"]),
        "core": v["core"],
        "role": v["role"] or None,
        "datatype": v["datatype"],
        "codelist": v["codelist"] or None,
        "codelists": v["codelists"].split(),
        # None when the codelist is not in our CT subset (see codelists.tsv).
        "codelist_extensible": cl.extensible if cl is not None else None,
        "display_format": v["display_format"] or None,
        "iso8601": v["pattern"] or None,
    }
    return prop


def _placeholder_pattern(ig_name: str) -> str | None:
    """``TRTxxP`` -> a regex for TRT01P..TRT99P; None for a name without placeholders."""
    # The IG writes placeholders in lower case inside upper-case names.
    if ig_name == ig_name.upper():
        return None
    body = _PLACEHOLDER_RE.sub(lambda m: _PLACEHOLDERS[m.group(0)], ig_name)
    return f"^{body}$(?!\\n)"


def dataset_schema(
    ds: dict[str, str], variables: list[dict[str, str]], codelists: dict[str, CodelistRow]
) -> dict[str, Any]:
    _check_variables(ds, variables)
    properties = {v["name"]: variable_property(v, codelists) for v in variables}
    schema: dict[str, Any] = {
        "$schema": DIALECT,
        "title": f"{ds['name']} - {ds['label']}",
        "description": f"One record of {ds['name']} ({ds['standard']} {ds['version']}): "
        f"{ds['structure']}",
        "type": "object",
        "properties": properties,
        "required": [v["name"] for v in variables if v["core"] == "Req"],
        "x-cdisc": {
            "name": ds["name"],
            "label": ds["label"],
            "standard": ds["standard"],
            "version": ds["version"],
            "class": ds["class"],
            "define_class": ds["define_class"],
            "subclass": ds["subclass"] or None,
            "structure": ds["structure"],
            "keys": ds["keys"].split(),
        },
    }
    if ds["standard"] == "SDTMIG":
        # SDTM has no free extension: a non-standard variable goes to SUPP--.
        schema["additionalProperties"] = False
    else:
        # ADaM allows sponsor variables (ADaMIG 1.3 section 3) and more periods
        # or groups than the one instance (xx=01, y=1) listed in properties.
        pattern_properties: dict[str, Any] = {}
        for v in variables:
            pattern = _placeholder_pattern(v["ig_name"])
            if pattern:
                generic = {k: val for k, val in properties[v["name"]].items() if k != "x-cdisc"}
                generic["title"] = v["ig_name"]
                generic["description"] = (
                    f"ADaMIG {ds['version']} {v['ig_name']}, e.g. {v['name']} ({v['label']})"
                )
                pattern_properties[pattern] = generic
        schema["patternProperties"] = pattern_properties
        schema["propertyNames"] = {"pattern": ADAM_NAME}
        schema["additionalProperties"] = {
            "type": ["string", "number", "null"],
            "maxLength": CHAR_MAX_LENGTH,
        }
    return schema


def ct_document(codelists: dict[str, CodelistRow]) -> dict[str, Any]:
    versions: dict[str, str] = {}
    for cl in codelists.values():
        if versions.setdefault(cl.source, cl.version) != cl.version:
            raise MetadataError(f"codelists.tsv: {cl.source} has two versions")
    return {
        "versions": versions,
        "codelists": {
            code: {
                "short_name": cl.short_name,
                "name": cl.name,
                "extensible": cl.extensible,
                "source": cl.source,
                "version": cl.version,
                "terms": [
                    {
                        "submission_value": t.submission_value,
                        "code": t.code,
                        "preferred_term": t.preferred_term,
                        "synonyms": list(t.synonyms),
                    }
                    for t in cl.terms
                ],
            }
            for code, cl in codelists.items()
        },
    }


# Keys whose children are data in a meaningful order (IG variable order), not
# schema keywords; every other mapping is written with sorted keys.
_ORDERED = {"properties", "patternProperties"}


def _canonical(obj: Any, keep_order: bool = False) -> Any:
    if isinstance(obj, dict):
        items = obj.items() if keep_order else sorted(obj.items())
        return {k: _canonical(v, k in _ORDERED and not keep_order) for k, v in items}
    if isinstance(obj, list):
        return [_canonical(v) for v in obj]
    return obj


def dumps(obj: Any) -> str:
    return json.dumps(_canonical(obj), indent=2, ensure_ascii=True) + "\n"


def build(metadata: Path = METADATA) -> dict[Path, str]:
    """All generated files, as paths relative to schemas/ -> text."""
    datasets = read_table(metadata / "datasets.csv")
    variables = read_table(metadata / "variables.csv")
    codelists = load_codelists(read_table(metadata / "codelists.tsv", delimiter="\t"))
    by_dataset: dict[str, list[dict[str, str]]] = {d["name"]: [] for d in datasets}
    for v in variables:
        if v["dataset"] not in by_dataset:
            raise MetadataError(f"variables.csv: dataset {v['dataset']} is not in datasets.csv")
        by_dataset[v["dataset"]].append(v)
    out: dict[Path, str] = {}
    for ds in datasets:
        rows = sorted(by_dataset[ds["name"]], key=lambda v: int(v["order"]))
        path = Path(FOLDERS[ds["standard"]]) / f"{ds['name'].lower()}.schema.json"
        out[path] = dumps(dataset_schema(ds, rows, codelists))
    out[CT_FILE] = dumps(ct_document(codelists))
    return out


def generated_files(root: Path = SCHEMAS) -> Iterable[Path]:
    """Generated files present under ``root``, relative to it (to find stale ones)."""
    for folder in (*FOLDERS.values(), CT_FILE.parent.as_posix()):
        yield from (p.relative_to(root) for p in sorted((root / folder).glob("*.json")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if files are out of date")
    parser.add_argument("--out", type=Path, default=SCHEMAS, help="write here (default schemas/)")
    args = parser.parse_args(argv)
    files = build()
    existing = set(generated_files(args.out)) if args.out.exists() else set()
    stale = sorted(existing - set(files))
    changed = sorted(
        p
        for p, text in files.items()
        if not (args.out / p).exists() or (args.out / p).read_bytes() != text.encode()
    )
    if args.check:
        for p in changed + stale:
            print(f"out of date: {p}", file=sys.stderr)
        return 1 if changed or stale else 0
    for p in changed:
        (args.out / p).parent.mkdir(parents=True, exist_ok=True)
        (args.out / p).write_bytes(files[p].encode())
    for p in stale:
        (args.out / p).unlink()
    print(f"{len(changed)} written, {len(stale)} removed, {len(files) - len(changed)} unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
