"""Read a mapping spec (YAML), validate it, and build the :class:`Spec` model.

Three passes, each reporting *every* problem it finds with file, line, column
and JSON path: YAML syntax (ruamel's round-trip loader, which is a safe loader
and keeps node positions), the JSON Schema ``schemas/mapping-spec.schema.json``,
then the semantic checks in :mod:`cdisc.spec.check` (columns, variables,
codelists and formats that exist).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ..errors import Problem, ProblemLog, SpecError
from ..resources import schemas_dir
from .model import (
    ColumnSpec,
    DomainSpec,
    JsonPath,
    RecordBlock,
    SourceSpec,
    Spec,
    StudyCodelist,
    StudyInfo,
    locate,
)


@cache
def spec_schema() -> dict[str, Any]:
    return json.loads((schemas_dir() / "mapping-spec.schema.json").read_text(encoding="utf-8"))


#: a spec has a few thousand nodes; aliases that expand beyond this are a YAML bomb
MAX_NODES = 100_000


class _NotPlainData(Exception):
    """A node a spec must not have; raised with the JSON path of the node."""

    def __init__(self, path: JsonPath, message: str) -> None:
        super().__init__(message)
        self.path = path


class _Plain:
    """Plain Python copy of a ruamel document, with 1-based (line, column) per path.

    The round-trip loader constructs nothing from a tag: ``!!python/...`` comes
    back as tagged data. A spec is plain data, so any explicit tag but ``!!str``
    is refused (all of them are reported), as are recursive aliases and alias bombs.
    """

    def __init__(self) -> None:
        self.positions: dict[JsonPath, tuple[int, int]] = {(): (1, 1)}
        self.tags: list[tuple[JsonPath, str]] = []
        self.budget = MAX_NODES

    def copy(self, node: Any, path: JsonPath = (), ancestors: frozenset[int] = frozenset()) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise _NotPlainData(path, f"the document expands to more than {MAX_NODES} nodes "
                                "through aliases (a YAML bomb?)")
        tag = getattr(getattr(node, "tag", None), "value", None)
        if tag == "tag:yaml.org,2002:str" and isinstance(node, TaggedScalar):
            return str(node.value)  # `!!str 01`: the text as written
        if tag is not None:
            self.tags.append((path, str(tag).replace("tag:yaml.org,2002:", "!!")))
            return None
        if isinstance(node, CommentedMap | CommentedSeq):
            if id(node) in ancestors:
                raise _NotPlainData(path, "an alias refers to a node that contains it "
                                    "(recursive YAML)")
            ancestors = ancestors | {id(node)}
        out = self.positions
        if isinstance(node, CommentedMap):
            plain = {}
            for key, value in node.items():
                # a key brought in by a YAML merge (<<: *anchor) has no position here
                line, col = node.lc.key(key) if key in node.lc.data else (node.lc.line, node.lc.col)
                out[(*path, str(key))] = (line + 1, col + 1)
                plain[str(key)] = self.copy(value, (*path, str(key)), ancestors)
            return plain
        if isinstance(node, CommentedSeq):
            items = []
            for i, value in enumerate(node):
                where = node.lc.item(i)
                out[(*path, i)] = (where[0] + 1, where[1] + 1) if where else out[path]
                items.append(self.copy(value, (*path, i), ancestors))
            return items
        return node


def _yaml_text_to_document(text: str, file: str) -> tuple[Any, dict[JsonPath, tuple[int, int]]]:
    yaml = YAML(typ="rt")  # round-trip constructor derives from SafeConstructor
    yaml.allow_duplicate_keys = False
    try:
        node = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise SpecError.single(
            "SPEC001", f"YAML syntax: {exc.problem or exc}",
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except YAMLError as exc:  # e.g. ReaderError: a control character in the text
        position = getattr(exc, "position", None)
        line = column = None
        if isinstance(position, int):
            before = text[:position]
            line, column = before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1
        raise SpecError.single("SPEC001", f"YAML: {exc}".split("\n")[0], file=file, line=line,
                               column=column) from None
    plain = _Plain()
    try:
        document = plain.copy(node)
    except _NotPlainData as exc:
        raise SpecError(Problem("SPEC001", str(exc), locate(file, plain.positions,
                                                                   exc.path))) from None
    if plain.tags:
        raise SpecError([
            Problem("SPEC001", f"YAML tag {tag} is not allowed: a spec is plain data (maps, "
                    "lists, text, numbers), read with a safe loader that constructs no objects",
                    locate(file, plain.positions, path))
            for path, tag in plain.tags
        ])
    return document, plain.positions



def _schema_problems(document: Any, file: str,
                     positions: dict[JsonPath, tuple[int, int]]) -> ProblemLog:
    problems = ProblemLog()
    validator = jsonschema.Draft202012Validator(spec_schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.path])
    for error in errors:
        # if/then failures are reported through their most specific cause
        leaves = _leaf_errors(error)
        for leaf in leaves:
            problems.add("SPEC002", _schema_message(leaf),
                         locate(file, positions, tuple(leaf.absolute_path)))
    return problems


def _leaf_errors(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    if error.validator in ("allOf", "anyOf") and error.context:
        best = jsonschema.exceptions.best_match(error.context)
        return [best] if best is not None else [error]
    return [error]


def _schema_message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        return f"{error.message}; allowed here: {allowed}"
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    return error.message


def _created(study: dict[str, Any]) -> datetime:
    """The output timestamp: SOURCE_DATE_EPOCH wins (reproducible builds), else the spec's."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return datetime.fromtimestamp(int(epoch), tz=UTC).replace(tzinfo=None)
    return datetime.fromisoformat(str(study["created"]))


def _build(document: dict[str, Any], path: Path,
           positions: dict[JsonPath, tuple[int, int]], source_dir: Path) -> Spec:
    study = document["study"]
    info = StudyInfo(
        studyid=study["studyid"],
        sdtmig_version=study["sdtmig_version"],
        ct_version=study["ct_version"],
        data_cutoff=study["data_cutoff"],
        created=_created(study),
        title=study.get("title", ""),
        sponsor=study.get("sponsor", ""),
        adamig_version=study.get("adamig_version", "1.3"),
        usubjid_separator=study.get("usubjid_separator", "-"),
    )
    sources = {}
    for name, src in document["sources"].items():
        columns = {
            col: ColumnSpec(
                name=col,
                type=c["type"],
                formats=tuple([c["format"]] if isinstance(c.get("format"), str)
                              else c.get("format", ())),
                required=bool(c.get("required", False)),
                label=c.get("label", ""),
            )
            for col, c in src["columns"].items()
        }
        file = Path(src["file"])
        sources[name] = SourceSpec(
            name=name,
            file=file if file.is_absolute() else source_dir / file,
            subject=src["subject"],
            columns=columns,
            key=tuple(src.get("key", ())),
            sheet=src.get("sheet"),
            json_path=("sources", name),
        )
    study_ct = {
        name: StudyCodelist(name=name, codelist=c["codelist"], map=dict(c.get("map", {})))
        for name, c in document.get("study_ct", {}).items()
    }
    domains = {}
    for dname, dom in document["domains"].items():
        blocks = tuple(
            RecordBlock(
                domain=dname,
                index=i,
                source=b["source"],
                map=b["map"],
                supp=b.get("supp", {}),
                where=b.get("where"),
                join=tuple(b.get("join", ())),
                first_per=b.get("first_per"),
                aggregate=b.get("aggregate"),
            )
            for i, b in enumerate(dom["records"])
        )
        domains[dname] = DomainSpec(
            name=dname, records=blocks, derive=dom.get("derive", {}), label=dom.get("label", "")
        )
    return Spec(
        path=path,
        study=info,
        sources=sources,
        study_ct=study_ct,
        domains=domains,
        trial_summary=document.get("trial_summary", {}),
        visits=dict(document.get("visits", {})),
        recist=dict(document.get("recist", {})),
        positions=positions,
    )


def load_spec(path: str | Path, source_dir: str | Path | None = None) -> Spec:
    """Load and fully check a mapping spec; raise :class:`SpecError` with every problem.

    Relative source file names resolve against ``source_dir`` if given, else
    against the spec file's folder. Notices (e.g. sponsor-extended CT terms)
    do not stop the load; they are kept in ``Spec.notices``.
    """
    from .check import check_spec  # check needs the mapping registry; import late

    path = Path(path).resolve()
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError.single("SPEC000", "spec file not found", file=file) from None
    except UnicodeDecodeError as exc:
        raise SpecError.single("SPEC000", f"spec is not UTF-8 text: {exc}", file=file) from None
    document, positions = _yaml_text_to_document(text, file)
    problems = _schema_problems(document, file, positions)
    problems.raise_if_errors(SpecError)
    base = Path(source_dir).resolve() if source_dir is not None else path.parent
    try:
        datetime.fromisoformat(str(document["study"]["created"]))
    except ValueError as exc:
        raise SpecError(Problem("SPEC030", f"created is not a real date/time: {exc}",
                                locate(file, positions, ("study", "created")))) from None
    spec = _build(document, path, positions, base)
    checked = check_spec(spec)
    checked.raise_if_errors(SpecError)
    return replace(spec, notices=tuple(checked))
