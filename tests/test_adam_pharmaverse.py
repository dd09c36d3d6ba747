"""ADTTE against admiral: pharmaverseadam's ADTTE rebuilt from its ADSL and ADRS.

``../shared/reference/pharmaverseadam/{adsl,adrs_onco,adtte_onco}.csv`` are admiral's
and admiralonco's templates run on the pharmaverse SDTM. With their ADSL and ADRS as
input and a spec that states admiralonco's ADTTE template (``ad_adtte.R`` with the
``tte_source`` objects death_event, lastalive_censor, rand_censor, pd_event,
lasta_censor), every OS, PFS and RSD record is compared with ``adtte_onco.csv``:

| PARAMCD | records | CNSR | ADT | AVAL | STARTDT | EVNTDESC | CNSDTDSC | SRCDOM | SRCVAR | SRCSEQ |
|---|---|---|---|---|---|---|---|---|---|---|
| OS  | 254 | 254 | 245 | 245 | 254 | 254 | 254 | 254 | 254 | 254 |
| PFS | 254 | 254 | 254 | 254 | 254 | 254 | 254 | 254 | 254 | 254 |
| RSD |   4 |   4 |   4 |   4 |   4 |   4 |   4 |   4 |   4 |   4 |

The 9 OS differences are all censorings "Alive" at ADSL LSTALVDT: our ADT is the
LSTALVDT of the shipped ``adsl.csv`` (the rule, lastalive_censor), while
``adtte_onco.csv`` holds an earlier date (TRTEDT for four of them, EOSDT for three,
dates ADSL does not hold for two): the reference ADTTE was built from an ADSL whose
LSTALVDT differed. No rule differs; the test pins exactly these 9 subjects.

The same comparison through our own ADRS (``cdisc.adam.adrs`` from
``pharmaversesdtm/rs_onco_recist.csv``) agrees likewise; only SRCSEQ differs where our
ADRS numbers ASEQ its own way. Skipped when ``../shared/`` is absent.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest

from cdisc.adam import derive_adtte
from cdisc.adam.common import sas_dates
from cdisc.formats import ALL_READERS
from cdisc.spec import load_adam_spec

from helpers import SHARED

REFERENCE = SHARED / "reference"
ADAM = REFERENCE / "pharmaverseadam"
pytestmark = pytest.mark.skipif(not (ADAM / "adtte_onco.csv").is_file(),
                                reason="../shared/reference/pharmaverseadam is not available")

#: admiralonco's ADTTE template (inst/templates/ad_adtte.R) as ADaM rules
ADMIRAL_SPEC = """\
spec_version: 1
adam:
  adsl:
    # admiral's ADSL template: RANDDT from DS (ADSL is read here, not derived)
    randomization: {dataset: DS, where: {column: DSDECOD, equals: RANDOMIZED}, date: DSSTDTC}
  adtte:
    adsl_variables: [ARMCD, ARM, ACTARMCD, ACTARM, AGE, SEX]
    parameters:
      - paramcd: OS
        param: Overall Survival
        start: {dataset: ADSL, date: RANDDT}
        events:
          - &death_event
            dataset: ADRS
            where: {all: [{column: PARAMCD, equals: DEATH}, {column: AVALC, equals: "Y"},
                          {column: ANL01FL, equals: "Y"}]}
            date: ADT
            evntdesc: Death
            srcseq: ASEQ
        censors:
          - {dataset: ADSL, date: LSTALVDT, evntdesc: Alive, cnsdtdsc: Alive During Study}
          - &rand_censor {dataset: ADSL, date: RANDDT, evntdesc: Randomization,
                          cnsdtdsc: Randomization}
      - paramcd: PFS
        param: Progression Free Survival
        start: {dataset: ADSL, date: RANDDT}
        events:
          - &pd_event
            dataset: ADRS
            where: {all: [{column: PARAMCD, equals: PD}, {column: AVALC, equals: "Y"},
                          {column: ANL01FL, equals: "Y"}]}
            date: ADT
            evntdesc: Disease Progression
            srcseq: ASEQ
          - *death_event
        censors:
          - &lasta_censor
            dataset: ADRS
            where: {all: [{column: PARAMCD, equals: LSTA}, {column: ANL01FL, equals: "Y"}]}
            date: ADT
            evntdesc: Last Tumor Assessment
            cnsdtdsc: Last Tumor Assessment
            srcseq: ASEQ
          - *rand_censor
      - paramcd: RSD
        param: Duration of Response
        # derive_vars_merged(TEMP_RESPDT = ADT of RSP = "Y"), ADSL filtered to responders
        start:
          dataset: ADRS
          where: {all: [{column: PARAMCD, equals: RSP}, {column: AVALC, equals: "Y"},
                        {column: ANL01FL, equals: "Y"}]}
          date: ADT
        events: [*pd_event, *death_event]
        censors: [*lasta_censor]
"""
COMPARED = ["CNSR", "ADT", "AVAL", "STARTDT", "EVNTDESC", "CNSDTDSC", "SRCDOM", "SRCVAR",
            "SRCSEQ", "ASEQ", "ARMCD", "ARM", "ACTARMCD", "ACTARM", "AGE", "SEX"]
#: OS censorings whose reference date is not the shipped ADSL's LSTALVDT (see above)
OTHER_LSTALVDT = {"01-703-1258", "01-704-1009", "01-704-1017", "01-704-1266", "01-704-1332",
                  "01-708-1216", "01-710-1070", "01-710-1271", "01-718-1427"}


def _read(path: Path) -> pd.DataFrame:
    return ALL_READERS[".csv"](path)[0]


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("admiral") / "adam.yaml"
    path.write_text(textwrap.dedent(ADMIRAL_SPEC), encoding="utf-8")
    return load_adam_spec(path)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    ref = _read(ADAM / "adtte_onco.csv")
    for col in ("ADT", "STARTDT"):
        ref[col] = sas_dates(ref[col])[0]
    return ref


def _agreement(ours: pd.DataFrame, ref: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    both = ours.merge(ref, on=["USUBJID", "PARAMCD"], how="outer", suffixes=("", "_REF"),
                      indicator=True)
    assert both["_merge"].eq("both").all(), both[both["_merge"] != "both"][
        ["USUBJID", "PARAMCD", "_merge"]]
    same = pd.DataFrame({c: (both[c] == both[f"{c}_REF"]) | (both[c].isna()
                                                             & both[f"{c}_REF"].isna())
                         for c in COMPARED})
    same["PARAMCD"] = both["PARAMCD"]
    return both, same


def test_adtte_from_admiral_adsl_and_adrs_agrees_record_by_record(spec, reference):
    adsl, adrs = _read(ADAM / "adsl.csv"), _read(ADAM / "adrs_onco.csv")
    ours = derive_adtte({"ADSL": adsl, "ADRS": adrs}, spec).frame
    both, same = _agreement(ours, reference)
    counts = same.groupby("PARAMCD").sum()
    records = both["PARAMCD"].value_counts()
    assert records.to_dict() == {"OS": 254, "PFS": 254, "RSD": 4}
    # every variable of every PFS and RSD record, and all but ADT/AVAL of OS
    for paramcd, n in records.items():
        expected = {c: n for c in COMPARED}
        if paramcd == "OS":
            expected.update(ADT=n - len(OTHER_LSTALVDT), AVAL=n - len(OTHER_LSTALVDT))
        assert counts.loc[paramcd].to_dict() == expected, paramcd
    # the OS differences: censored at the shipped ADSL's LSTALVDT, which is later than the
    # date behind the reference ADTTE
    diff = both[~same["ADT"]]
    assert set(diff["USUBJID"]) == OTHER_LSTALVDT and set(diff["PARAMCD"]) == {"OS"}
    lstalvdt = sas_dates(adsl.set_index("USUBJID").loc[diff["USUBJID"], "LSTALVDT"])[0]
    assert (diff["ADT"].to_numpy() == lstalvdt.to_numpy()).all()
    assert (diff["ADT"] > diff["ADT_REF"]).all() and diff["CNSR"].eq(1).all()
    assert diff["EVNTDESC_REF"].eq("Alive").all()


@pytest.mark.skipif(not (REFERENCE / "pharmaversesdtm" / "rs_onco_recist.csv").is_file(),
                    reason="pharmaversesdtm is not available")
def test_the_chain_through_our_own_adrs_agrees(spec, reference):
    adrs_module = pytest.importorskip("cdisc.adam.adrs")
    from cdisc.spec.model import RecistOptions

    adsl = _read(ADAM / "adsl.csv")
    rs = _read(REFERENCE / "pharmaversesdtm" / "rs_onco_recist.csv")
    adrs = adrs_module.derive_adrs({"RS": rs}, adsl, RecistOptions())
    ours = derive_adtte({"ADSL": adsl, "ADRS": adrs.frame}, spec).frame
    both, same = _agreement(ours, reference)
    for col in ("CNSR", "STARTDT", "EVNTDESC", "CNSDTDSC", "SRCDOM", "SRCVAR"):
        assert same[col].all(), col
    assert set(both.loc[~same["ADT"], "USUBJID"]) == OTHER_LSTALVDT
