"""Standards metadata (SDTMIG 3.4, ADaMIG 1.3, CDISC CT), loaded once from schemas/.

The JSON Schemas in ``schemas/`` are the single source of truth for dataset
structure (variable names, labels, types, order, Core, codelists, keys) and
controlled terminology. Nothing else in the code base repeats these facts:
the mapping engine, the XPT writer, the validator and define.xml all ask here.

The schemas are generated from the maintained tables in ``schemas/metadata/``
by ``tools/build_schemas.py``; edit the tables, not the JSON.

Example::

    >>> dm = dataset("DM")
    >>> dm.label, dm.keys[:2], dm.variable("SEX").codelist
    ('Demographics', ('STUDYID', 'USUBJID'), 'C66731')
    >>> "F" in codelist("C66731").terms
    True
    >>> dataset("suppae").label
    'Supplemental Qualifiers for AE'
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from .errors import StandardsError
from .resources import schemas_dir


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    datatype: str  # "Char" or "Num" (as the IG writes it)
    order: int
    core: str  # Req / Exp / Perm (SDTM) or Req / Cond / Perm (ADaM)
    role: str | None = None
    codelist: str | None = None  # NCI C-code of the codelist, e.g. "C66731"
    pattern: str | None = None  # regex for ISO 8601 --DTC/--DUR variables
    iso8601: str | None = None  # which ISO 8601 value the pattern is: "datetime" / "duration"
    codelists: tuple[str, ...] = ()  # every codelist the IG lists; ``codelist`` is the one used
    display_format: str | None = None  # SAS format of ADaM Num dates/times, e.g. "DATE9."

    @property
    def is_numeric(self) -> bool:
        return self.datatype == "Num"


@dataclass(frozen=True)
class Dataset:
    name: str  # e.g. "DM", "SUPPAE", "ADSL"
    label: str
    standard: str  # "SDTMIG" or "ADaMIG"
    version: str  # "3.4" or "1.3"
    dataset_class: str
    structure: str
    keys: tuple[str, ...]
    variables: tuple[Variable, ...] = field(default=())
    define_class: str = ""  # Define-XML CT General Observation Class, e.g. "SPECIAL PURPOSE"
    subclass: str | None = None  # ADaM subclass, e.g. "TIME-TO-EVENT"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variables)

    def variable(self, name: str) -> Variable:
        for v in self.variables:
            if v.name == name:
                return v
        raise StandardsError.single(
            "STD002", f"{name} is not a variable of {self.name}", dataset=self.name, field=name
        )

    def has(self, name: str) -> bool:
        return any(v.name == name for v in self.variables)


@dataclass(frozen=True)
class Term:
    submission_value: str
    code: str
    preferred_term: str = ""
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Codelist:
    code: str  # e.g. "C66731"
    short_name: str  # the codelist's own submission value, e.g. "SEX"
    name: str  # e.g. "Sex"
    extensible: bool
    terms: dict[str, Term]  # keyed by submission value
    source: str = "SDTM CT"  # "SDTM CT" / "ADaM CT" / "Define-XML CT"
    version: str = ""


# --- loading -----------------------------------------------------------------

_FOLDERS = ("sdtm", "adam")
_CT_FILE = ("ct", "controlled-terminology.json")
# SUPP-- takes the parent domain code (2 characters, up to 4 for split domains).
_SUPP = re.compile(r"SUPP([A-Z][A-Z0-9]{1,3})")
_SUPPQUAL = "SUPPQUAL"


@dataclass(frozen=True)
class _Catalog:
    schemas: dict[str, dict[str, Any]]  # dataset name -> JSON Schema
    datasets: dict[str, Dataset]
    codelists: dict[str, dict[str, Any]]  # C-code -> raw CT entry
    short_names: dict[str, str]  # codelist short name -> C-code
    ct_versions: dict[str, str]


def _read_json(*parts: str) -> Any:
    resource = schemas_dir()
    for part in parts:  # one level at a time: Traversable.joinpath takes one name on 3.10
        resource = resource / part
    try:
        return json.loads(resource.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StandardsError.single(
            "STD004",
            f"cannot read standards metadata {'/'.join(parts)}: {exc}",
            file="/".join(("schemas", *parts)),
        ) from exc


def _variable(name: str, prop: dict[str, Any]) -> Variable:
    x = prop["x-cdisc"]
    return Variable(
        name=name,
        label=prop["title"],
        datatype=x["datatype"],
        order=x["order"],
        core=x["core"],
        role=x["role"],
        codelist=x["codelist"],
        pattern=prop.get("pattern"),
        iso8601=x["iso8601"],
        codelists=tuple(x["codelists"]),
        display_format=x["display_format"],
    )


def _dataset(schema: dict[str, Any]) -> Dataset:
    x = schema["x-cdisc"]
    variables = sorted(
        (_variable(name, prop) for name, prop in schema["properties"].items()),
        key=lambda v: v.order,
    )
    return Dataset(
        name=x["name"],
        label=x["label"],
        standard=x["standard"],
        version=x["version"],
        dataset_class=x["class"],
        structure=x["structure"],
        keys=tuple(x["keys"]),
        variables=tuple(variables),
        define_class=x["define_class"],
        subclass=x["subclass"],
    )


@cache
def _catalog() -> _Catalog:
    """Read every shipped schema and the CT once per process."""
    root = schemas_dir()
    schemas: dict[str, dict[str, Any]] = {}
    for folder in _FOLDERS:
        try:
            entries = sorted(e.name for e in (root / folder).iterdir())
        except OSError as exc:
            raise StandardsError.single(
                "STD004",
                f"standards metadata folder schemas/{folder} is missing: {exc}",
                file=f"schemas/{folder}",
            ) from exc
        for entry in entries:
            if entry.endswith(".schema.json"):
                schema = _read_json(folder, entry)
                schemas[schema["x-cdisc"]["name"]] = schema
    ct = _read_json(*_CT_FILE)
    codelists: dict[str, dict[str, Any]] = ct["codelists"]
    return _Catalog(
        schemas=schemas,
        datasets={name: _dataset(schema) for name, schema in schemas.items()},
        codelists=codelists,
        short_names={cl["short_name"].upper(): code for code, cl in codelists.items()},
        ct_versions=dict(ct["versions"]),
    )


def _resolve(name: str) -> tuple[str, str | None]:
    """Dataset name -> (name of the schema that describes it, parent domain of a SUPP--)."""
    key = name.strip().upper()
    catalog = _catalog()
    if key in catalog.datasets:
        return key, None
    supp = _SUPP.fullmatch(key)
    parent = supp.group(1) if supp else None
    # ADaM has no SUPP-- datasets: sponsor variables go in the dataset itself.
    adam = parent in catalog.datasets and catalog.datasets[parent].standard == "ADaMIG"
    if parent and not adam and _SUPPQUAL in catalog.datasets:
        return _SUPPQUAL, parent
    raise StandardsError.single(
        "STD001",
        f"{name!r} is not a dataset we support; known: {', '.join(known_datasets())} "
        "(and SUPP-- for any domain)",
        dataset=name,
    )


@cache
def _supp_dataset(parent: str) -> Dataset:
    base = _catalog().datasets[_SUPPQUAL]
    return replace(base, name=f"SUPP{parent}", label=base.label.replace("[domain name]", parent))


# --- public API ----------------------------------------------------------------


def known_datasets() -> list[str]:
    """Names of the datasets with a schema (SUPPQUAL stands for every SUPP--)."""
    return sorted(_catalog().datasets)


def dataset(name: str) -> Dataset:
    """The dataset ``name`` (case-insensitive); ``SUPPAE`` etc. take SUPPQUAL's structure.

    Raises :class:`StandardsError` (STD001) for a dataset we do not support.
    """
    schema_name, parent = _resolve(name)
    if parent is None:
        return _catalog().datasets[schema_name]
    return _supp_dataset(parent)


def dataset_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one record of ``name``, a fresh copy the caller may change.

    For a SUPP-- dataset the SUPPQUAL schema is named after it and its RDOMAIN
    is fixed to the parent domain.
    """
    schema_name, parent = _resolve(name)
    schema = copy.deepcopy(_catalog().schemas[schema_name])
    if parent is not None:
        ds = _supp_dataset(parent)
        schema["title"] = f"{ds.name} - {ds.label}"
        schema["x-cdisc"].update(name=ds.name, label=ds.label)
        schema["properties"]["RDOMAIN"]["enum"] = [parent, None]
    return schema


def known_codelists() -> list[str]:
    """C-codes of the codelists in our CT subset."""
    return sorted(_catalog().codelists)


def ct_versions() -> dict[str, str]:
    """Package dates of the CT we ship, e.g. ``{"SDTM CT": "2025-03-28", ...}``."""
    return dict(_catalog().ct_versions)


def codelist(code_or_short_name: str) -> Codelist:
    """A codelist by NCI C-code (``"C66731"``) or short name (``"SEX"``), case-insensitive.

    Raises :class:`StandardsError` (STD003) for a codelist outside our CT subset.
    """
    key = code_or_short_name.strip().upper()
    catalog = _catalog()
    code = key if key in catalog.codelists else catalog.short_names.get(key)
    if code is None:
        raise StandardsError.single(
            "STD003",
            f"codelist {code_or_short_name!r} is not in the controlled terminology we ship",
            value=code_or_short_name,
        )
    return _codelist(code)


@cache
def _codelist(code: str) -> Codelist:
    # Built on first use: most runs touch a handful of the ~50 codelists.
    raw = _catalog().codelists[code]
    terms = {
        t["submission_value"]: Term(
            submission_value=t["submission_value"],
            code=t["code"],
            preferred_term=t["preferred_term"],
            synonyms=tuple(t["synonyms"]),
        )
        for t in raw["terms"]
    }
    return Codelist(
        code=code,
        short_name=raw["short_name"],
        name=raw["name"],
        extensible=raw["extensible"],
        terms=terms,
        source=raw["source"],
        version=raw["version"],
    )
