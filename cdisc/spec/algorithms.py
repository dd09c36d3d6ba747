"""What a spec may say about an algorithm: the declaration vocabulary and its JSON Schema.

Every mapping algorithm declares, next to its function, the arguments a spec
gives it, its phase and what it reads from other domains::

    @algorithm("study_day", "domain", needs=("DM.RFSTDTC",), args={
        "dtc": Arg.variable("the --DTC variable of this domain", required=True),
    })
    def study_day(tgt, ctx, *, dtc): ...

``tools/build_spec_schema.py`` writes every declaration into
``schemas/mapping-spec.schema.json`` (:func:`mapping_defs`): one
``args_<name>`` definition per algorithm, whose annotation keywords the spec
checker reads back (:func:`declared_algorithms`). So the checker knows each
algorithm from the schema alone, and the spec layer imports no algorithm.

Annotations of an ``args_<name>`` definition (JSON Schema ignores keywords it
does not know; ``x-`` marks ours):

``x-phase``
    ``record``, ``subject`` or ``domain``: where the algorithm may be used
    (SPEC013).
``x-needs``
    ``["DM.RFSTDTC", ...]``: variables of other domains it reads; the domain
    and the variable must be in the spec (SPEC019).
``x-copies``
    the column argument whose collected value is the result, unchanged: a
    collected date copied into an ISO 8601 variable is an error (SPEC027).

Annotations of an argument (or of the items of a list argument):

``x-refers``
    what the value names, which the checker proves exists (:data:`KINDS`).
``x-of``
    for ``column``: the argument naming the source the column belongs to
    (default: the block's source and its joins); for ``term``: the argument
    naming the codelist.
``x-column-types``
    for ``column``: the declared column types it accepts (SPEC022).
``x-result``
    the value (or each value of a map) is written into the target variable as
    it is: when the variable has a codelist, a value outside a non-extensible
    codelist is an error, outside an extensible one a notice (SPEC020).
"""

from __future__ import annotations

import inspect
import keyword
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Phase = Literal["record", "subject", "domain"]
PHASES: tuple[Phase, ...] = ("record", "subject", "domain")

#: what an argument's value can name (``x-refers``), and what the spec checker proves
KINDS = {
    "column": "a column of the block's source, or source.column of a joined source "
              "(SPEC014); with x-of, a column of the source another argument names",
    "source": "a source declared under sources: (SPEC011)",
    "codelist": "a study_ct entry or a CDISC codelist, by C-code or short name (SPEC015)",
    "term": "a submission value of the codelist another argument names (SPEC016)",
    "domain": "a domain this spec maps (SPEC018)",
    "variable": "a variable of this domain, mapped or derived before this one (SPEC019)",
    "date_format": "a date format of the token language (SPEC021)",
    "condition": "a row condition on the block's columns (SPEC014, SPEC032)",
    "mapping": "a nested mapping, checked like any other in the same place",
    "pattern": "a regular expression with exactly one group, matched against whole values "
               "(SPEC060)",
    "template": "a text with {column} placeholders, each a column of the block's source "
                "(SPEC061, SPEC014)",
}

#: JSON Schema of a value of each kind, unless the argument gives its own
_KIND_SCHEMA: dict[str, dict[str, Any]] = {
    "column": {"type": "string"},
    "source": {"$ref": "#/$defs/identifier"},
    "codelist": {"type": "string"},
    "term": {"type": "string"},
    "domain": {"type": "string", "pattern": "^[A-Z][A-Z0-9]{1,3}$"},
    "variable": {"$ref": "#/$defs/variable_name"},
    "date_format": {"type": "string"},
    "condition": {"$ref": "#/$defs/condition"},
    "mapping": {"$ref": "#/$defs/mapping"},
    "pattern": {"type": "string", "minLength": 1},
    "template": {"type": "string", "minLength": 1},
}

#: keys every mapping may carry besides its arguments (they describe it; see DESCRIPTIVE_KEYS)
COMMON_KEYS = ("algorithm", "label", "origin", "evaluator", "split_long_text", "dictionary")


@dataclass(frozen=True)
class Arg:
    """One argument of an algorithm, as a spec writes it.

    Build one with the constructors (``Arg.column(...)``, ``Arg.value(...)``,
    ...), which say what the value is; ``schema`` is its JSON Schema when the
    kind's default does not fit.
    """

    kind: str  # a key of KINDS, or "value", "list_of", "record"
    description: str = ""
    required: bool = False
    schema: Mapping[str, Any] | None = None
    of: str | None = None
    column_types: tuple[str, ...] = ()
    items: Arg | None = None
    min_items: int | None = None
    fields: Mapping[str, Arg] = field(default_factory=dict)
    #: a column that matches rows (a join key) rather than gives the value
    key: bool = False
    #: a value (or the values of a map) the target variable takes as it is written
    result: bool = False

    # -- constructors ------------------------------------------------------------------
    @classmethod
    def column(cls, description: str, *, required: bool = False, of: str | None = None,
               types: tuple[str, ...] = (), key: bool = False,
               schema: Mapping[str, Any] | None = None) -> Arg:
        """A source column: of the block's source (or ``source.column`` of a joined one),
        or, with ``of``, of the source the argument ``of`` names; ``types``: the declared
        column types it must have; ``key``: it matches rows rather than gives the value."""
        return cls("column", description, required, schema, of, tuple(types), key=key)

    @classmethod
    def source(cls, description: str, *, required: bool = False) -> Arg:
        return cls("source", description, required)

    @classmethod
    def codelist(cls, description: str, *, required: bool = False) -> Arg:
        return cls("codelist", description, required)

    @classmethod
    def term(cls, description: str, *, of: str, required: bool = False) -> Arg:
        """A submission value of the codelist the argument ``of`` names."""
        return cls("term", description, required, of=of)

    @classmethod
    def domain(cls, description: str, *, required: bool = False) -> Arg:
        return cls("domain", description, required)

    @classmethod
    def variable(cls, description: str, *, required: bool = False) -> Arg:
        """A variable of the domain being built, mapped or derived before this one."""
        return cls("variable", description, required)

    @classmethod
    def date_format(cls, description: str, *, required: bool = False) -> Arg:
        return cls("date_format", description, required)

    @classmethod
    def condition(cls, description: str = "", *, required: bool = False) -> Arg:
        return cls("condition", description, required)

    @classmethod
    def mapping(cls, description: str = "", *, required: bool = False) -> Arg:
        return cls("mapping", description, required)

    @classmethod
    def pattern(cls, description: str, *, required: bool = False) -> Arg:
        """A regular expression (Python syntax) with exactly one capturing group."""
        return cls("pattern", description, required)

    @classmethod
    def template(cls, description: str, *, required: bool = False) -> Arg:
        """A text with ``{column}`` placeholders (``{{``/``}}`` for a literal brace)."""
        return cls("template", description, required)

    @classmethod
    def value(cls, description: str, schema: Mapping[str, Any], *,
              required: bool = False, result: bool = False) -> Arg:
        """A literal the spec writes (text, number, flag, choice), shaped by ``schema``;
        ``result``: the value (a map's values, for an object) is written into the target
        variable as it is, so it is checked against the variable's codelist."""
        return cls("value", description, required, schema, result=result)

    @classmethod
    def list_of(cls, description: str, items: Arg, *, min_items: int = 1,
                required: bool = False) -> Arg:
        """A list whose every item is ``items``."""
        return cls("list_of", description, required, items=items, min_items=min_items)

    @classmethod
    def record(cls, fields: Mapping[str, Arg], description: str = "") -> Arg:
        """A map with exactly these keys (required ones as declared)."""
        return cls("record", description, fields=dict(fields))

    # -- JSON Schema -------------------------------------------------------------------
    def to_schema(self) -> dict[str, Any]:
        """The JSON Schema of this argument's value, with its annotations."""
        if self.kind == "list_of":
            assert self.items is not None
            out: dict[str, Any] = {"type": "array"}
            if self.min_items:
                out["minItems"] = self.min_items
            out["items"] = self.items.to_schema()
        elif self.kind == "record":
            out = {"type": "object"}
            required = [name for name, arg in self.fields.items() if arg.required]
            if required:
                out["required"] = required
            out["additionalProperties"] = False
            out["properties"] = {name: arg.to_schema() for name, arg in self.fields.items()}
        else:
            out = dict(self.schema if self.schema is not None else _KIND_SCHEMA[self.kind])
        if self.description:
            out = {"description": self.description, **out}
        if self.kind in KINDS:
            out["x-refers"] = self.kind
        if self.of is not None:
            out["x-of"] = self.of
        if self.column_types:
            out["x-column-types"] = list(self.column_types)
        if self.result:
            out["x-result"] = True
        return out


@dataclass(frozen=True)
class Declaration:
    """What the spec may say about one algorithm (its function lives in cdisc/sdtm)."""

    name: str
    phase: Phase
    args: Mapping[str, Arg] = field(default_factory=dict)
    #: variables of other domains the algorithm reads, as ``DOMAIN.VARIABLE``
    needs: tuple[str, ...] = ()
    #: the column argument whose value the result is, unchanged
    copies: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"algorithm {self.name!r}: phase {self.phase!r} is not one of "
                             f"{', '.join(PHASES)}")
        for name, arg in self.args.items():
            if name in COMMON_KEYS:
                raise ValueError(f"algorithm {self.name!r}: argument {name!r} is a key every "
                                 "mapping has")
            _check_arg(self.name, name, arg, self.args)
        for need in self.needs:
            domain, dot, variable = need.partition(".")
            if not (dot and domain.isupper() and variable.isupper()):
                raise ValueError(f"algorithm {self.name!r}: need {need!r} is not DOMAIN.VARIABLE")
        copied = self.args.get(self.copies) if self.copies is not None else None
        if self.copies is not None and (copied is None or copied.kind != "column"):
            raise ValueError(f"algorithm {self.name!r}: copies={self.copies!r} is not a column "
                             "argument")

    @property
    def column_args(self) -> tuple[str, ...]:
        """Arguments naming a column of the block's source (or of a joined one) that the
        value is made from (not keys)."""
        return tuple(n for n, a in self.args.items()
                     if a.kind == "column" and a.of is None and not a.key)

    def parameter(self, arg: str) -> str:
        """The Python keyword an argument arrives as: ``else`` -> ``else_``."""
        return f"{arg}_" if keyword.iskeyword(arg) else arg

    def to_schema(self) -> dict[str, Any]:
        """This algorithm's ``args_<name>`` definition."""
        out: dict[str, Any] = {}
        if self.description:
            out["description"] = self.description
        out["x-phase"] = self.phase
        if self.needs:
            out["x-needs"] = list(self.needs)
        if self.copies:
            out["x-copies"] = self.copies
        required = [name for name, arg in self.args.items() if arg.required]
        if required:
            out["required"] = required
        properties: dict[str, Any] = {key: True for key in COMMON_KEYS}
        properties.update((name, arg.to_schema()) for name, arg in self.args.items())
        out["properties"] = properties
        out["additionalProperties"] = False
        return out


def _check_arg(algorithm: str, name: str, arg: Arg, siblings: Mapping[str, Arg]) -> None:
    where = f"algorithm {algorithm!r}, argument {name!r}"
    if arg.kind not in (*KINDS, "value", "list_of", "record"):
        raise ValueError(f"{where}: unknown kind {arg.kind!r}")
    if arg.kind == "value" and arg.schema is None:
        raise ValueError(f"{where}: a value needs its JSON Schema")
    if arg.of is not None and (arg.kind not in ("column", "term") or arg.of not in siblings):
        raise ValueError(f"{where}: of={arg.of!r} must name another argument of a column or term")
    if arg.kind == "term" and arg.of is None:
        raise ValueError(f"{where}: a term needs of= (the codelist argument)")
    if arg.kind == "list_of":
        if arg.items is None:
            raise ValueError(f"{where}: a list needs items")
        _check_arg(algorithm, f"{name}[]", arg.items, siblings)
    for field_name, sub in arg.fields.items():
        _check_arg(algorithm, f"{name}.{field_name}", sub, arg.fields)


def mapping_defs(declarations: Mapping[str, Declaration]) -> dict[str, Any]:
    """The generated parts of the spec schema: the mapping's algorithm enum, its
    ``allOf`` (arguments by algorithm) and one ``args_<name>`` per algorithm, by name."""
    names = sorted(declarations)
    return {
        "enum": names,
        "allOf": [{"if": {"properties": {"algorithm": {"const": name}}},
                   "then": {"$ref": f"#/$defs/args_{name}"}} for name in names],
        "args": {f"args_{name}": declarations[name].to_schema() for name in names},
    }


# -- reading the schema back (the spec checker) ------------------------------------------
@dataclass(frozen=True)
class Declared:
    """An algorithm as the spec schema declares it: what the checker works from."""

    name: str
    phase: Phase
    #: (domain, variable) pairs read from other domains
    needs: tuple[tuple[str, str], ...]
    copies: str | None
    #: the ``args_<name>`` definition: arguments with their x-refers annotations
    schema: Mapping[str, Any]


def declared_algorithms(schema: Mapping[str, Any]) -> dict[str, Declared]:
    """Every algorithm of a spec schema, from its ``args_<name>`` annotations."""
    defs = schema["$defs"]
    out = {}
    for name in defs["mapping"]["properties"]["algorithm"]["enum"]:
        args = defs[f"args_{name}"]
        needs = tuple(tuple(need.split(".", 1)) for need in args.get("x-needs", ()))
        out[name] = Declared(name, args["x-phase"], needs,  # type: ignore[arg-type]
                             args.get("x-copies"), args)
    return out


def signature_problems(declaration: Declaration, func: Callable[..., Any]) -> list[str]:
    """How ``func``'s signature differs from its declaration (empty when they agree).

    The function takes its frame and the context positionally, then every
    declared argument as a keyword-only parameter (a Python keyword with a
    trailing ``_``), without a default when the argument is required.
    """
    params = list(inspect.signature(func).parameters.values())
    problems = []
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) != 2:
        problems.append(f"takes {len(positional)} positional parameters, not 2 (frame, ctx)")
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        problems.append("takes *args or **kwargs: declare each argument instead")
    keywords = {p.name: p for p in params if p.kind == p.KEYWORD_ONLY}
    declared = {declaration.parameter(name): arg for name, arg in declaration.args.items()}
    for name in sorted(set(declared) - set(keywords)):
        problems.append(f"argument {name!r} is declared but not a keyword-only parameter")
    for name in sorted(set(keywords) - set(declared)):
        problems.append(f"parameter {name!r} is not declared")
    for name in sorted(set(declared) & set(keywords)):
        has_default = keywords[name].default is not inspect.Parameter.empty
        if declared[name].required == has_default:
            problems.append(f"argument {name!r} is "
                            f"{'required' if declared[name].required else 'optional'} but the "
                            f"parameter {'has' if has_default else 'has no'} default")
    return problems


# -- the languages of two argument kinds (the checker proves them, the algorithms use them) --
def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used as an extract pattern (None when it can).

    It must compile as a Python regular expression and have exactly one
    capturing group: the part of the value that is kept.

    >>> pattern_problem(r"G(\\d)") is None, pattern_problem(r"G\\d")
    (True, 'the pattern has no capturing group: put the part to keep in (...)')
    """
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return f"the pattern is not a regular expression: {exc}"
    if compiled.groups == 0:
        return "the pattern has no capturing group: put the part to keep in (...)"
    if compiled.groups > 1:
        return (f"the pattern has {compiled.groups} capturing groups, one is kept: make the "
                "others non-capturing, (?:...)")
    return None


def template_parts(template: str) -> list[tuple[str, str | None]]:
    """``template`` as (literal text, placeholder or None) pairs, in order.

    ``"CYCLE {cycle} DAY {day}"`` -> ``[("CYCLE ", "cycle"), (" DAY ", "day")]``;
    ``{{`` and ``}}`` are literal braces. Raises ValueError for a template that
    is not one (an unclosed brace, ``{}``, a conversion or format after the name).
    """
    parts: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        if name is not None:
            if not name.strip():
                raise ValueError("an empty placeholder {}: name the column, e.g. {cycle}")
            if spec or conversion:
                raise ValueError(f"placeholder {{{name}}} has a conversion or format; write "
                                 "the column name alone")
        parts.append((literal, name))
    return parts


def template_fields(template: str) -> list[str]:
    """The placeholders of ``template`` (column names), in order, each once."""
    return list(dict.fromkeys(name for _, name in template_parts(template) if name))
