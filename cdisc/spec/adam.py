"""The ``adam:`` section of a spec: how ADSL and ADTTE are derived from SDTM datasets.

Plain immutable objects built from the schema-valid YAML (``$defs/adam`` in
``schemas/mapping-spec.schema.json``); the semantic checks are in
:mod:`cdisc.spec.check`; the derivations that read these objects are
:mod:`cdisc.adam.adsl` and :mod:`cdisc.adam.adtte`. Every object keeps its JSON
path, so a derivation problem can point at the spec line that asked for it.

A record selection (:class:`DateSource`) is the unit of the section: a dataset
(an SDTM domain, ADSL or ADRS), an optional ``where`` condition in the spec's
condition language and a date variable. ADSL's last-known-alive date, a
population flag, a time-to-event origin and every event or censoring source of
an ADTTE parameter are such selections. A parameter follows admiral's
``derive_param_tte``: per subject the earliest event wins, else the latest
censoring; an event and a censoring on one day count as the event.

Nothing is required: without an ``adam:`` section :func:`default_adam_spec`
gives the rules documented in ``docs/spec-format.md`` (ADSL from DM/EX/DS, OS
from the first dose; PFS and duration of response when ADRS is derived).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import CdiscError, Location
from .conditions import condition_columns
from .model import JsonPath, RecistOptions, format_json_path, locate

#: what TRTEDT is for exposure still running at the data cut-off
ONGOING_ENDS = ("last_dose", "cutoff")
#: date imputation of partial ISO 8601 dates: none, or the first / last possible date
IMPUTATIONS = ("none", "first", "last")
#: the highest level that may be imputed (ADaMIG --DTF: D = day, M = month and day)
HIGHEST_IMPUTATIONS = ("D", "M")
#: datasets a spec may read that are not SDTM domains
ADAM_SOURCES = ("ADSL", "ADRS")


@dataclass(frozen=True)
class DateSource:
    """Records of one dataset (``where``) and the date variable read from them."""

    dataset: str
    date: str
    where: dict[str, Any] | None = None
    #: partial ISO 8601 dates: "none" (not used), "first" or "last" possible date
    impute: str = "none"
    json_path: JsonPath = ()

    @property
    def variables(self) -> tuple[str, ...]:
        """Every variable of ``dataset`` this selection reads (for checks and provenance)."""
        return (self.date, *(condition_columns(self.where) if self.where else ()))


@dataclass(frozen=True)
class PopulationFlag:
    """An ADSL flag: "Y" when the subject has a record of ``dataset`` matching ``where``.

    With ``on_or_after`` (an ADSL date such as TRTSDT), only records whose
    ``date`` is on or after it count ("a post-baseline response").
    """

    name: str
    dataset: str
    where: dict[str, Any] | None = None
    date: str | None = None
    on_or_after: str | None = None
    json_path: JsonPath = ()


#: SAFFL unless a spec lists its flags: any EX record of a dose (admiral: EXDOSE > 0, or a
#: placebo record with EXDOSE 0)
SAFFL_ANY_DOSE = PopulationFlag("SAFFL", "EX", {"any": [
    {"all": [{"column": "EXDOSE", "is_missing": False},
             {"not": {"column": "EXDOSE", "equals": 0}}]},
    {"column": "EXTRT", "equals": "PLACEBO"}]}, json_path=("adam", "adsl", "flags", "SAFFL"))


@dataclass(frozen=True)
class TreatmentSpec:
    """TRTSDT/TRTEDT/TRTDURD from exposure records, TRT01P/TRT01A from DM."""

    dataset: str = "EX"
    start: str = "EXSTDTC"
    end: str = "EXENDTC"
    where: dict[str, Any] | None = None
    #: records of exposure still running at the data cut-off (e.g. SUPPEX.EXONGO = "Y")
    ongoing: dict[str, Any] | None = None
    #: TRTEDT of such a record: "last_dose" (its end date, else its start) or "cutoff"
    ongoing_end: str = "last_dose"
    planned: str = "ARM"
    actual: str = "ACTARM"
    json_path: JsonPath = ("adam", "adsl", "treatment")


@dataclass(frozen=True)
class DispositionSpec:
    """End of treatment (EOTSTT, DCTREAS) or of study (EOSSTT, EOSDT, DCSREAS) from DS.

    The subject's latest matching record decides: COMPLETED when its ``decod``
    is one of ``completed``, else DISCONTINUED with the reason; no record is
    ONGOING (ADaM CT C124296, Subject Trial Status).
    """

    dataset: str = "DS"
    where: dict[str, Any] | None = None
    decod: str = "DSDECOD"
    date: str = "DSSTDTC"
    completed: tuple[str, ...] = ("COMPLETED",)
    json_path: JsonPath = ()


@dataclass(frozen=True)
class DeathSpec:
    """DTHDT and DTHDTF from a death date, partial dates imputed as admiral's derive_vars_dt.

    ``impute: first`` -- a missing day is the 1st, a missing month January;
    ``highest_imputation`` -- D allows only the day to be imputed, M month and
    day (a year-only date then gives no DTHDT with D). With
    ``not_before_last_alive`` an imputed date is never before the last date the
    subject was known alive when that date lies inside the partial date's
    period (admiral's ``min_dates``).
    """

    dataset: str = "DM"
    date: str = "DTHDTC"
    impute: str = "first"
    highest_imputation: str = "M"
    not_before_last_alive: bool = True
    json_path: JsonPath = ("adam", "adsl", "death")


@dataclass(frozen=True)
class LastAliveSpec:
    """LSTALVDT: the latest complete date of ``dates``; None = every --DTC of every SDTM
    dataset except birth and death dates (DM.BRTHDTC, DM.DTHDTC, DS death records, DD)."""

    dates: tuple[DateSource, ...] | None = None
    include_death: bool = True
    json_path: JsonPath = ("adam", "adsl", "last_alive")


@dataclass(frozen=True)
class AdslSpec:
    treatment: TreatmentSpec = field(default_factory=TreatmentSpec)
    flags: tuple[PopulationFlag, ...] = (SAFFL_ANY_DOSE,)
    end_of_treatment: DispositionSpec | None = None
    end_of_study: DispositionSpec | None = None
    randomization: DateSource | None = None
    death: DeathSpec | None = field(default_factory=DeathSpec)
    last_alive: LastAliveSpec = field(default_factory=LastAliveSpec)
    #: DM variables copied into ADSL; None = every DM variable that ADSL defines
    carry: tuple[str, ...] | None = None
    json_path: JsonPath = ("adam", "adsl")


@dataclass(frozen=True)
class TteSource:
    """An event or censoring source of a time-to-event parameter (admiral's tte_source)."""

    kind: str  # "event" / "censor"
    source: DateSource
    evntdesc: str
    cnsdtdsc: str | None = None
    srcdom: str | None = None  # default: the dataset
    srcvar: str | None = None  # default: the date variable
    srcseq: str | None = None  # a variable of the dataset, e.g. ASEQ, DSSEQ
    censor: int = 1  # CNSR of a censoring (events are 0)
    json_path: JsonPath = ()

    @property
    def cnsr(self) -> int:
        return 0 if self.kind == "event" else self.censor


@dataclass(frozen=True)
class TteParameter:
    paramcd: str
    param: str
    start: DateSource
    events: tuple[TteSource, ...]
    censors: tuple[TteSource, ...]
    #: ADSL condition: the subjects the parameter is derived for (all, by default)
    population: dict[str, Any] | None = None
    paramn: int | None = None
    json_path: JsonPath = ()


@dataclass(frozen=True)
class AdtteSpec:
    parameters: tuple[TteParameter, ...]
    #: ADSL variables copied onto every record; None = those ADTTE defines and ADSL has
    adsl_variables: tuple[str, ...] | None = None
    json_path: JsonPath = ("adam", "adtte")


@dataclass(frozen=True)
class AdamSpec:
    adsl: AdslSpec = field(default_factory=AdslSpec)
    #: None: the default parameters (OS; PFS and DOR when ADRS is derived)
    adtte: AdtteSpec | None = None
    recist: RecistOptions = field(default_factory=RecistOptions)
    data_cutoff: str | None = None  # ISO 8601 date
    file: str = ""
    positions: dict[JsonPath, tuple[int, int]] = field(default_factory=dict, repr=False)

    def locate(self, json_path: JsonPath, **extra: Any) -> Location:
        """A Location for a node of the spec (the nearest ancestor with a position); with
        no spec file (the default rules) only the JSON path of the rule."""
        if self.file:
            return locate(self.file, self.positions, json_path, **extra)
        return Location(json_path=format_json_path(json_path), **extra)

    def tte_parameters(self, has_adrs: bool) -> tuple[TteParameter, ...]:
        if self.adtte is not None:
            return self.adtte.parameters
        return default_tte_parameters(has_adrs)


# --------------------------------------------------------------------------- building


def _source(raw: dict[str, Any], path: JsonPath, impute: str = "none") -> DateSource:
    return DateSource(dataset=raw["dataset"], date=raw["date"], where=raw.get("where"),
                      impute=raw.get("impute", impute), json_path=path)


def _disposition(raw: dict[str, Any] | None, path: JsonPath) -> DispositionSpec | None:
    if raw is None:
        return None
    return DispositionSpec(dataset=raw.get("dataset", "DS"), where=raw.get("where"),
                           decod=raw.get("decod", "DSDECOD"), date=raw.get("date", "DSSTDTC"),
                           completed=tuple(raw.get("completed", ("COMPLETED",))), json_path=path)


def _tte_source(kind: str, raw: dict[str, Any], path: JsonPath) -> TteSource:
    return TteSource(
        kind=kind, source=_source(raw, path, impute="first"), evntdesc=raw["evntdesc"],
        cnsdtdsc=raw.get("cnsdtdsc"), srcdom=raw.get("srcdom"), srcvar=raw.get("srcvar"),
        srcseq=raw.get("srcseq"), censor=int(raw.get("censor", 1)), json_path=path)


def build_adam(document: dict[str, Any], *, file: str = "",
               positions: dict[JsonPath, tuple[int, int]] | None = None,
               data_cutoff: str | None = None,
               recist: dict[str, Any] | None = None) -> AdamSpec:
    """The :class:`AdamSpec` of a schema-valid ``adam:`` section (``{}`` for none)."""
    base: JsonPath = ("adam",)
    raw_adsl = document.get("adsl", {})
    p_adsl = (*base, "adsl")
    t = raw_adsl.get("treatment", {})
    treatment = TreatmentSpec(
        dataset=t.get("dataset", "EX"), start=t.get("start", "EXSTDTC"),
        end=t.get("end", "EXENDTC"), where=t.get("where"),
        ongoing=(t.get("ongoing") or {}).get("where"),
        ongoing_end=(t.get("ongoing") or {}).get("end", "last_dose"),
        planned=t.get("planned", "ARM"), actual=t.get("actual", "ACTARM"),
        json_path=(*p_adsl, "treatment"))
    flags = (SAFFL_ANY_DOSE,) if "flags" not in raw_adsl else tuple(
        PopulationFlag(name=name, dataset=f["dataset"], where=f.get("where"), date=f.get("date"),
                       on_or_after=f.get("on_or_after"), json_path=(*p_adsl, "flags", name))
        for name, f in raw_adsl["flags"].items())
    death = None
    if raw_adsl.get("death", {}) is not None:
        d = raw_adsl.get("death", {})
        death = DeathSpec(dataset=d.get("dataset", "DM"), date=d.get("date", "DTHDTC"),
                          impute=d.get("impute", "first"),
                          highest_imputation=d.get("highest_imputation", "M"),
                          not_before_last_alive=d.get("not_before_last_alive", True),
                          json_path=(*p_adsl, "death"))
    la = raw_adsl.get("last_alive", {})
    dates = la.get("dates")
    last_alive = LastAliveSpec(
        dates=None if dates is None else tuple(
            _source(s, (*p_adsl, "last_alive", "dates", i)) for i, s in enumerate(dates)),
        include_death=la.get("include_death", True), json_path=(*p_adsl, "last_alive"))
    rand = raw_adsl.get("randomization")
    adsl = AdslSpec(
        treatment=treatment, flags=flags,
        end_of_treatment=_disposition(raw_adsl.get("end_of_treatment"),
                                      (*p_adsl, "end_of_treatment")),
        end_of_study=_disposition(raw_adsl.get("end_of_study"), (*p_adsl, "end_of_study")),
        randomization=None if rand is None else _source(rand, (*p_adsl, "randomization")),
        death=death, last_alive=last_alive,
        carry=tuple(raw_adsl["carry"]) if "carry" in raw_adsl else None, json_path=p_adsl)

    adtte = None
    raw_tte = document.get("adtte")
    if raw_tte is not None:
        p_tte = (*base, "adtte")
        params = []
        for i, p in enumerate(raw_tte.get("parameters", [])):
            pp = (*p_tte, "parameters", i)
            params.append(TteParameter(
                paramcd=p["paramcd"], param=p["param"], start=_source(p["start"], (*pp, "start")),
                events=tuple(_tte_source("event", e, (*pp, "events", j))
                             for j, e in enumerate(p.get("events", []))),
                censors=tuple(_tte_source("censor", c, (*pp, "censors", j))
                              for j, c in enumerate(p.get("censors", []))),
                population=p.get("population"), paramn=p.get("paramn"), json_path=pp))
        adsl_vars = raw_tte.get("adsl_variables")
        adtte = AdtteSpec(parameters=tuple(params),
                          adsl_variables=None if adsl_vars is None else tuple(adsl_vars),
                          json_path=p_tte)
    try:  # invalid options are the checker's SPEC026
        options = RecistOptions(**(recist or {}))
    except (TypeError, ValueError, CdiscError):
        options = RecistOptions()
    return AdamSpec(adsl=adsl, adtte=adtte, recist=options,
                    data_cutoff=document.get("data_cutoff", data_cutoff), file=file,
                    positions=dict(positions or {}))


# --------------------------------------------------------------------------- defaults


def _event(dataset: str, date: str, evntdesc: str, where: dict[str, Any] | None = None,
           srcseq: str | None = None) -> TteSource:
    return TteSource("event", DateSource(dataset, date, where, impute="first"), evntdesc,
                     srcseq=srcseq)


def _censor(dataset: str, date: str, evntdesc: str, cnsdtdsc: str,
            where: dict[str, Any] | None = None, srcseq: str | None = None) -> TteSource:
    return TteSource("censor", DateSource(dataset, date, where, impute="first"), evntdesc,
                     cnsdtdsc=cnsdtdsc, srcseq=srcseq)


def default_tte_parameters(has_adrs: bool) -> tuple[TteParameter, ...]:
    """OS from the first dose (death, else censored at the last date known alive); with
    ADRS also PFS and duration of response, from admiralonco's ADRS parameters PD, LSTA
    and RSP (as its tte_source objects pd_event, lasta_censor; death from ADSL)."""
    death = _event("ADSL", "DTHDT", "DEATH", {"column": "DTHFL", "equals": "Y"})
    start = _censor("ADSL", "TRTSDT", "TREATMENT START", "TREATMENT START")
    os_ = TteParameter(
        "OS", "Overall Survival", DateSource("ADSL", "TRTSDT"), (death,),
        (_censor("ADSL", "LSTALVDT", "LAST KNOWN ALIVE", "LAST DATE KNOWN ALIVE"), start))
    if not has_adrs:
        return (os_,)
    pd_event = _event("ADRS", "ADT", "DISEASE PROGRESSION",
                      {"all": [{"column": "PARAMCD", "equals": "PD"},
                               {"column": "AVALC", "equals": "Y"}]}, srcseq="ASEQ")
    lasta = _censor("ADRS", "ADT", "LAST TUMOR ASSESSMENT", "LAST TUMOR ASSESSMENT",
                    {"column": "PARAMCD", "equals": "LSTA"}, srcseq="ASEQ")
    pfs = TteParameter("PFS", "Progression Free Survival", DateSource("ADSL", "TRTSDT"),
                       (pd_event, death), (lasta, start))
    dor = TteParameter(
        "DOR", "Duration of Response",
        DateSource("ADRS", "ADT", {"all": [{"column": "PARAMCD", "equals": "RSP"},
                                           {"column": "AVALC", "equals": "Y"}]}),
        (pd_event, death), (lasta,))
    return (os_, pfs, dor)


def default_adam_spec(**changes: Any) -> AdamSpec:
    """The rules used when a spec has no ``adam:`` section (see docs/spec-format.md)."""
    return replace(AdamSpec(), **changes)
