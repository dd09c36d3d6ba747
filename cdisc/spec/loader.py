"""Read a mapping spec (YAML), validate it, and build the :class:`Spec` model.

Three passes, each reporting *every* problem it finds with file, line, column
and JSON path: YAML syntax (ruamel's round-trip loader, which is a safe loader
and keeps node positions), the JSON Schema ``schemas/mapping-spec.schema.json``,
then the semantic checks in :mod:`cdisc.spec.check` (columns, variables,
codelists and formats that exist).

The spec limits of :class:`cdisc.limits.Limits` are enforced while reading, so a
hostile or broken file stops with one located problem instead of a traceback or
minutes of parsing: only a regular file is opened (never a FIFO or a device),
at most ``spec_bytes`` bytes are read, maps and lists nest at most
``spec_depth`` deep (counted by the composer before it recurses further) and a
number has at most ``spec_number_digits`` digits and must be finite.
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ..errors import Location, Problem, ProblemLog, SpecError
from ..limits import DEFAULT_LIMITS, Limits
from .adam import AdamSpec, build_adam
from .check import check_adam_only, check_spec
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
from .placeholders import placeholder_problems
from .schema import spec_schema, spec_validator
from .submission import build_submission
from .trial_design import build_trial_design, build_trial_summary

#: a spec has a few thousand nodes; aliases that expand beyond this are a YAML bomb
MAX_NODES = 100_000

#: Years an XPT v5 header can hold: it stores two-digit years, read back as 60-99 ->
#: 19yy and 00-59 -> 20yy (``_PIVOT`` in cdisc/formats/xpt.py, the window ReadStat
#: reads with). The spec layer may not import the output layer, so the window is
#: repeated here; the writer should share this constant (or move both to one module
#: below both layers).
CREATED_YEARS = range(1960, 2060)
_EPOCH = datetime(1970, 1, 1)


class _Refused(Exception):
    """A node the loader stops at, with the problem code and ruamel's mark of the node."""

    def __init__(self, code: str, message: str, mark: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.mark = mark


def _too_deep(limit: int) -> str:
    return (f"maps and lists are nested more than {limit} deep here (limit spec_depth; the "
            "shipped example nests 10 deep; raise it with --limit spec_depth=N)")


def _limits_of(loader: Any) -> Limits:
    return getattr(loader, "spec_limits", DEFAULT_LIMITS)


class _Composer(Composer):
    """ruamel's composer, refusing maps and lists nested deeper than ``spec_depth``.

    The composer recurses once per level; counting levels here stops a
    ``[[[[...]]]]`` bomb at the limit, long before Python's recursion limit, at
    the line and column of the first node too deep.
    """

    _nesting = 0

    def _enter(self) -> None:
        self._nesting += 1
        event = self.parser.peek_event()
        self.loader.spec_last_mark = event.start_mark  # where a RecursionError is reported
        limit = _limits_of(self.loader).spec_depth
        if self._nesting > limit:
            raise _Refused("SPEC001", _too_deep(limit), event.start_mark)

    def compose_sequence_node(self, anchor: Any) -> Any:
        self._enter()
        node = super().compose_sequence_node(anchor)
        self._nesting -= 1
        return node

    def compose_mapping_node(self, anchor: Any) -> Any:
        self._enter()
        node = super().compose_mapping_node(anchor)
        self._nesting -= 1
        return node


def _shown(text: str, limits: Limits) -> str:
    """``text`` cut to ``message_value_chars`` for a message."""
    cap = limits.message_value_chars
    return text if len(text) <= cap else f"{text[:cap]}... ({len(text)} characters)"


class _Constructor(RoundTripConstructor):
    """The round-trip (safe) constructor, refusing numbers a spec cannot hold.

    A number longer than ``spec_number_digits`` digits is refused before Python
    converts it (a 5,000-digit integer exceeds Python's int conversion limit);
    ``.nan``, ``.inf`` and a float beyond the float range (``1e400``) are
    refused, since no spec field means infinity or "not a number"; a date or
    time that does not exist (an unquoted ``2012-02-30``) is located too.
    """

    def _digits(self, node: Any) -> None:
        body = str(node.value).lstrip("+-").replace("_", "")
        alphabet = "0123456789"
        if body[:2].lower() in ("0x", "0o", "0b"):
            alphabet = "0123456789abcdefABCDEF" if body[1] in "xX" else alphabet
            body = body[2:]
        digits = sum(body.count(ch) for ch in alphabet)
        limit = _limits_of(self.loader).spec_number_digits
        if digits > limit:
            raise _Refused("SPEC033", f"a number with {digits} digits; a spec number may have at "
                           f"most {limit} (limit spec_number_digits; raise it with --limit "
                           "spec_number_digits=N, or quote the value if it is text)",
                           node.start_mark)

    def construct_yaml_int(self, node: Any) -> Any:
        self._digits(node)
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node: Any) -> Any:
        self._digits(node)
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            written = _shown(str(node.value), _limits_of(self.loader))
            raise _Refused("SPEC033", f"{written} is not a finite number (NaN, infinity, or "
                           "beyond the float range of about 1.8e308): a spec number must be "
                           "finite; quote the value if it is text", node.start_mark)
        return value

    def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
        try:
            return super().construct_yaml_timestamp(node, values)
        except (ValueError, OverflowError) as exc:
            raise _Refused("SPEC001", f"{_shown(str(node.value), _limits_of(self.loader))} is "
                           f"not a real date/time ({exc}); quote it if it is text",
                           node.start_mark) from None


for _tag in ("int", "float", "timestamp"):
    _Constructor.add_default_constructor(_tag)


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

    def __init__(self, max_depth: int = DEFAULT_LIMITS.spec_depth) -> None:
        self.positions: dict[JsonPath, tuple[int, int]] = {(): (1, 1)}
        self.tags: list[tuple[JsonPath, str]] = []
        self.budget = MAX_NODES
        self.max_depth = max_depth

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
            if len(path) >= self.max_depth:  # nesting built up through aliases
                raise _NotPlainData(path, _too_deep(self.max_depth))
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


def _at(mark: Any) -> dict[str, int | None]:
    return {"line": mark.line + 1 if mark else None, "column": mark.column + 1 if mark else None}


def _yaml_text_to_document(text: str, file: str, limits: Limits = DEFAULT_LIMITS,
                           ) -> tuple[Any, dict[JsonPath, tuple[int, int]]]:
    yaml = YAML(typ="rt")  # round-trip constructor derives from SafeConstructor
    yaml.allow_duplicate_keys = False
    yaml.Composer = _Composer
    yaml.Constructor = _Constructor
    yaml.spec_limits = limits  # type: ignore[attr-defined]
    try:
        node = yaml.load(text)
    except _Refused as exc:
        raise SpecError.single(exc.code, exc.message, file=file, **_at(exc.mark)) from None
    except RecursionError:
        # Only when spec_depth was raised beyond what this Python's stack can compose.
        raise SpecError.single(
            "SPEC001", "maps and lists are nested too deeply to read (Python's recursion "
            f"limit; limit spec_depth is {limits.spec_depth})", file=file,
            **_at(getattr(yaml, "spec_last_mark", None))) from None
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
    except (ValueError, OverflowError) as exc:  # a scalar ruamel cannot construct
        raise SpecError.single("SPEC001", f"YAML value cannot be read: {exc}", file=file) from None
    plain = _Plain(limits.spec_depth)
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
    validator = spec_validator()
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


def _created(study: dict[str, Any], file: str, positions: dict[JsonPath, tuple[int, int]],
             limits: Limits = DEFAULT_LIMITS) -> datetime:
    """The output timestamp: SOURCE_DATE_EPOCH wins (reproducible builds), else the spec's.

    Both are checked whenever they are given: ``created`` must be a real date/time
    and SOURCE_DATE_EPOCH (when set and not empty) a whole number of seconds since
    1970-01-01 UTC, as https://reproducible-builds.org/specs/source-date-epoch/
    requires; either must fall in the years an XPT header can hold.
    """
    where = locate(file, positions, ("study", "created"))
    first, last = CREATED_YEARS[0], CREATED_YEARS[-1]
    try:
        created = datetime.fromisoformat(str(study["created"]))
    except ValueError as exc:
        raise SpecError(Problem("SPEC030", f"created is not a real date/time: {exc}",
                                where)) from None
    if created.year not in CREATED_YEARS:
        raise SpecError(Problem(
            "SPEC030", f"created year {created.year} is outside {first}-{last}: XPT v5 headers "
            "store two-digit years, which read back in that window", where))
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None or not raw.strip():
        return created
    env = Location(field="SOURCE_DATE_EPOCH", value=_shown(raw, limits))
    text = raw.strip()
    if not re.fullmatch(r"-?[0-9]+", text):
        raise SpecError(Problem(
            "SPEC030", "the environment variable SOURCE_DATE_EPOCH must be a whole number of "
            "seconds since 1970-01-01T00:00:00 UTC (reproducible-builds.org); unset it to use "
            "the spec's created", env))
    low = int((datetime(first, 1, 1) - _EPOCH).total_seconds())
    high = int((datetime(last + 1, 1, 1) - _EPOCH).total_seconds())  # exclusive
    # compare as text first: a 5,000-digit value must not reach int()
    if len(text.lstrip("-")) > 19 or not low <= int(text) < high:
        raise SpecError(Problem(
            "SPEC030", f"the environment variable SOURCE_DATE_EPOCH is outside {low} to "
            f"{high - 1} (seconds for {first}-01-01 to {last}-12-31T23:59:59 UTC): XPT v5 "
            "headers store two-digit years, which read back in that window", env))
    return _EPOCH + timedelta(seconds=int(text))


def _build(document: dict[str, Any], path: Path,
           positions: dict[JsonPath, tuple[int, int]], source_dir: Path,
           created: datetime) -> Spec:
    study = document["study"]
    info = StudyInfo(
        studyid=study["studyid"],
        sdtmig_version=study["sdtmig_version"],
        ct_version=study["ct_version"],
        data_cutoff=study["data_cutoff"],
        created=created,
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
                header=c.get("header", ""),
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
            delimiter=src.get("delimiter"),
            encoding=src.get("encoding"),
            decimal=src.get("decimal", "."),
            thousands=src.get("thousands"),
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
        adam=build_adam(document.get("adam", {}), file=str(path), positions=positions,
                        data_cutoff=study["data_cutoff"], recist=document.get("recist")),
        submission=build_submission(document.get("submission")),
        trial_parameters=build_trial_summary(document.get("trial_summary")),
        trial_design=build_trial_design(document.get("trial_design")),
        positions=positions,
    )


def load_spec(path: str | Path, source_dir: str | Path | None = None, *,
              limits: Limits = DEFAULT_LIMITS, allow_outside_sources: bool = False) -> Spec:
    """Load and fully check a mapping spec; raise :class:`SpecError` with every problem.

    Relative source file names resolve against ``source_dir`` if given, else
    against the spec file's folder. Notices (e.g. sponsor-extended CT terms)
    do not stop the load; they are kept in ``Spec.notices``.
    """
    path = Path(path).resolve()
    file = str(path)
    text = _read_spec(path, limits)
    try:
        document, positions = _yaml_text_to_document(text, file, limits)
        # a starter spec's TODOs first: what they break (a format, a date) is no news
        unfilled = placeholder_problems(document, file, positions)
        if unfilled:
            raise SpecError(unfilled)
        problems = _schema_problems(document, file, positions)
    except RecursionError:  # only with spec_depth raised beyond Python's stack
        raise SpecError.single("SPEC001", "maps and lists are nested too deeply to check "
                               f"(Python's recursion limit; limit spec_depth is "
                               f"{limits.spec_depth})", file=file) from None
    problems.raise_if_errors(SpecError)
    base = Path(source_dir).resolve() if source_dir is not None else path.parent
    created = _created(document["study"], file, positions, limits)
    spec = _build(document, path, positions, base, created)
    spec = replace(spec, limits=limits, allow_outside_sources=allow_outside_sources,
                   source_dir=base)
    checked = check_spec(spec)
    checked.raise_if_errors(SpecError)
    return replace(spec, notices=tuple(checked))


def _adam_only_schema() -> dict[str, Any]:
    """A spec file holding only ADaM rules: ``spec_version``, ``adam`` and ``recist``."""
    full = spec_schema()
    return {
        "$schema": full["$schema"],
        "type": "object",
        "required": ["spec_version", "adam"],
        "additionalProperties": False,
        "properties": {key: full["properties"][key] for key in ("spec_version", "adam",
                                                                 "recist")},
        "$defs": full["$defs"],
    }


def load_adam_spec(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> AdamSpec:
    """The ADaM rules of a spec file, fully checked; raise :class:`SpecError` with every problem.

    The file is either a whole mapping spec (its ``adam:`` section, or the
    default rules when it has none, with its data cut-off and ``recist:``
    options), or a file of ADaM rules alone for SDTM made elsewhere::

        spec_version: 1
        adam: {data_cutoff: "2013-01-31", adsl: {...}, adtte: {...}}
        recist: {...}            # optional

    The variables such a file names are checked against the standards (a
    name that is no standard variable may be a SUPP-- qualifier: a notice).
    """
    path = Path(path).resolve()
    file = str(path)
    text = _read_spec(path, limits)
    document, positions = _yaml_text_to_document(text, file, limits)
    if isinstance(document, dict) and ("domains" in document or "sources" in document
                                       or "study" in document):
        return load_spec(path, limits=limits).adam
    problems = ProblemLog()
    validator = jsonschema.Draft202012Validator(_adam_only_schema())
    for error in sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.path]):
        for leaf in _leaf_errors(error):
            problems.add("SPEC002", _schema_message(leaf),
                         locate(file, positions, tuple(leaf.absolute_path)))
    problems.raise_if_errors(SpecError)
    adam = build_adam(document["adam"], file=file, positions=positions,
                      recist=document.get("recist"))
    checked = check_adam_only(adam, document)
    checked.raise_if_errors(SpecError)
    return adam


def _read_spec(path: Path, limits: Limits) -> str:
    """The spec's text: a regular file of at most ``spec_bytes`` bytes, UTF-8.

    The type is checked with ``stat`` before opening (opening a FIFO blocks until a
    writer comes; ``/dev/zero`` never ends) and again on the open file, which is
    opened non-blocking so that a file swapped for a FIFO in between cannot hang
    the run. No more than ``spec_bytes + 1`` bytes are read. Line ends are
    translated as ``Path.read_text`` does (universal newlines).
    """
    file = str(path)
    too_big = (f"the spec is larger than {limits.spec_bytes} bytes (limit spec_bytes; raise it "
               "with --limit spec_bytes=N)")
    try:
        info = os.stat(path)
        _regular(info, file)
        if info.st_size > limits.spec_bytes:
            raise SpecError.single("SPEC000", too_big, file=file)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        with os.fdopen(os.open(path, flags), "rb") as handle:
            _regular(os.fstat(handle.fileno()), file)
            data = handle.read(limits.spec_bytes + 1)
    except FileNotFoundError:
        raise SpecError.single("SPEC000", "spec file not found", file=file) from None
    except OSError as exc:
        raise SpecError.single("SPEC000", f"cannot read the spec: {exc.strerror or exc}",
                               file=file) from None
    if len(data) > limits.spec_bytes:
        raise SpecError.single("SPEC000", too_big, file=file)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError.single("SPEC000", f"spec is not UTF-8 text: {exc}", file=file) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _regular(info: os.stat_result, file: str) -> None:
    if stat.S_ISREG(info.st_mode):
        return
    kind = ("a folder" if stat.S_ISDIR(info.st_mode) else "a FIFO (named pipe)"
            if stat.S_ISFIFO(info.st_mode) else "a device" if stat.S_ISCHR(info.st_mode)
            or stat.S_ISBLK(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode)
            else "a special file")
    raise SpecError.single("SPEC000", f"the spec is {kind}, not a regular file: only a file "
                           "is read as a spec", file=file)
