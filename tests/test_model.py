"""The shared dataset model (issue 9): per-block provenance, metadata the writers use."""

from __future__ import annotations

import doctest

import pyreadstat
import pytest

from cdisc.errors import OutputError
from cdisc.model import dataset as dataset_module
from cdisc.model import missing, text
from cdisc.output.writers import WRITERS, write_datasets
from cdisc.pipeline import build


@pytest.fixture(scope="module")
def example():
    return build()[1]


def test_doctests():
    for module in (dataset_module, missing, text):
        assert doctest.testmod(module).failed == 0, module.__name__


def blocks(table, variable):
    return [(p.block, p.algorithm, p.source_columns) for p in table.provenance
            if p.variable == variable]


def test_every_record_block_keeps_its_mapping_of_each_variable(example):
    tr, rs, ds = example.tables["TR"], example.tables["RS"], example.tables["DS"]
    # TR: lesion diameters, non-target status and the sum of diameters come from three
    # blocks; each block's TRTESTCD and TRORRES mapping is kept
    assert blocks(tr, "TRORRES") == [(0, "assign", ("diameter_mm",)),
                                     (1, "assign", ("status",)),
                                     (2, "assign", ("sum_mm",))]
    assert [b[1] for b in blocks(tr, "TRTESTCD")] == ["condition", "hardcode_ct", "hardcode_ct"]
    assert blocks(tr, "TRTESTCD")[0][2] == ("location",)  # the condition's column
    # RS: overall, target, non-target, new lesions and best response
    assert [b[2] for b in blocks(rs, "RSORRES")] == [
        ("overall_response",), ("target_response",), ("non_target_response",),
        ("new_lesions",), ("best_response",)]
    # the consent milestone (PROTMLST), end of treatment (NCOMPLT), death
    assert [b[:2] for b in blocks(ds, "DSDECOD")] == [(0, "hardcode_ct"), (1, "assign_ct"),
                                                      (2, "hardcode_ct")]
    # the engine's own values are listed too, per block, and derivations without one
    assert [p.phase for p in tr.provenance if p.variable == "STUDYID"] == ["standard"] * 3
    assert [(p.block, p.algorithm) for p in tr.provenance if p.variable == "TRSEQ"] == [
        (None, "seq")]
    # SUPPQUAL qualifiers are listed under their QNAM in the SUPP-- dataset (the pieces of
    # a split long text, COMMENT1..., come from the COMMENT mapping)
    assert {p.variable for p in example.tables["SUPPDM"].provenance} == set(
        example.tables["SUPPDM"].frame["QNAM"].str.rstrip("0123456789"))


def test_metadata_lengths_are_what_the_xpt_header_says(example, tmp_path):
    created = __import__("datetime").datetime(2013, 2, 1)
    tables = [t for t in example.tables.values() if len(t)]
    for path in write_datasets(tables, tmp_path, created=created):
        _, header = pyreadstat.read_xport(path, metadataonly=True)
        table = example.tables[path.stem.upper()]
        widths = header.variable_storage_width
        assert {v.name: v.length for v in table.meta.variables} == widths, path.name
        assert header.table_name == table.name
        assert header.file_label == table.label
        assert list(header.column_names) == list(table.meta.names)


def test_writers_are_chosen_by_format_name(example, tmp_path):
    assert WRITERS["xpt"].suffix == ".xpt"
    with pytest.raises(OutputError) as info:
        write_datasets([example.tables["DM"]], tmp_path, created=None, formats=("sas7bdat",))
    assert info.value.problems[0].code == "OUT004"


def test_text_a_mapping_makes_is_checked_at_the_source_row(tmp_path):
    from click.testing import CliRunner

    import cli

    from helpers import MINI_FILES, MINI_SPEC, write_study

    spec = write_study(tmp_path, MINI_SPEC.replace(
        'COUNTRY: {algorithm: hardcode, value: GBR}',
        'COUNTRY: {algorithm: hardcode, value: "G\\tBR"}'), MINI_FILES)
    result = CliRunner().invoke(cli.main, ["convert", "--spec", str(spec),
                                           "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "MAP014" in result.output and "pts.csv, dataset DM, row 2" in result.output
    assert not (tmp_path / "out").exists()


def test_full_verification_reaches_the_xpt_encoder(example, tmp_path, monkeypatch):
    import cdisc.formats.xpt as xpt

    seen = []
    real = xpt.write_xpt

    def recording(*args, **kwargs):
        seen.append(kwargs.get("verify", "fast"))
        return real(*args, **kwargs)

    monkeypatch.setattr(xpt, "write_xpt", recording)
    created = __import__("datetime").datetime(2013, 2, 1)
    write_datasets([example.tables["DM"]], tmp_path, created=created, verify="full")
    (tmp_path / "b").mkdir()
    write_datasets([example.tables["DM"]], tmp_path / "b", created=created)
    assert seen == ["full", "fast"]
