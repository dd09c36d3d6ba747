"""Reading define.xml 2.1 and checking it against the Define-XML 2.1 schema.

The reader turns a define.xml into plain, immutable objects that say what a
consistency check needs: each dataset (name, label, class, structure, keys,
the file its ``def:leaf`` names) with its variables (data type, length,
label, codelist, origins, value-level metadata), and each codelist with its
terms. It parses with entity expansion, DTD loading and network access off
and without lxml's ``huge_tree``, so a hostile file can neither read local
files nor exhaust memory through entities.

The schema is the official Define-XML 2.1 XSD package as the ``defineutils``
package (MIT) ships it; nothing is read from outside the installed packages.
:func:`schema_errors` returns every violation with its line;
:func:`schema_available` says whether the package is installed.

Example::

    >>> doc = read_define(path)                                  # doctest: +SKIP
    >>> doc.datasets["DM"].variable("SEX").codelist.terms[0].coded_value  # doctest: +SKIP
    'F'

This module imports only :mod:`cdisc.errors` (it is part of :mod:`cdisc.formats`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from lxml import etree

from ..errors import CdiscError, Location, Problem

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
ARM_NS = "http://www.cdisc.org/ns/arm/v1.0"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NS = {"odm": ODM_NS, "def": DEF_NS, "xlink": XLINK_NS}

#: a define.xml larger than this is refused (real ones are a few MB)
MAX_BYTES = 256 * 1024**2
#: file name of the stylesheet define.xml points at, as CDISC ships it
STYLESHEET_NAME = "define2-1.xsl"

#: error codes of a define.xml that cannot be read
READ_FAILED = "DEF001"
NOT_DEFINE = "DEF002"


def _odm(tag: str) -> str:
    return f"{{{ODM_NS}}}{tag}"


def _def(tag: str) -> str:
    return f"{{{DEF_NS}}}{tag}"


# --- the structure ------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    coded_value: str
    decode: str | None = None
    nci_code: str | None = None
    extended: bool = False  # def:ExtendedValue="Yes": a sponsor term added to CDISC CT
    order: int | None = None


@dataclass(frozen=True)
class Codelist:
    oid: str
    name: str
    datatype: str
    terms: tuple[Term, ...] = ()
    nci_code: str | None = None
    #: the dictionary of an ExternalCodeList (MedDRA, ISO 3166 ...); its terms are not listed
    external: str | None = None
    line: int | None = None

    @property
    def values(self) -> frozenset[str]:
        return frozenset(t.coded_value for t in self.terms)


@dataclass(frozen=True)
class Origin:
    type: str
    source: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class RangeCheck:
    """One condition of a where clause: the variable, EQ/NE/IN/NOTIN/LT..., its values."""

    item_oid: str
    variable: str | None  # the name of the ItemDef item_oid points at
    comparator: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class WhereClause:
    oid: str
    checks: tuple[RangeCheck, ...]


@dataclass(frozen=True)
class Variable:
    """An ItemDef as one dataset (or one value list) uses it."""

    oid: str
    name: str
    datatype: str
    label: str = ""
    length: int | None = None
    significant_digits: int | None = None
    display_format: str | None = None
    codelist: Codelist | None = None
    origins: tuple[Origin, ...] = ()
    mandatory: bool = False
    order: int | None = None
    key_sequence: int | None = None
    method_oid: str | None = None
    comment_oid: str | None = None
    #: value-level metadata of this variable (def:ValueListRef), in OrderNumber order
    value_list: tuple[ValueItem, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class ValueItem:
    """One ItemRef of a def:ValueListDef: the item and the where clauses it holds under."""

    variable: Variable
    where: tuple[WhereClause, ...] = ()


@dataclass(frozen=True)
class Dataset:
    oid: str
    name: str
    label: str = ""
    dataset_class: str | None = None
    subclasses: tuple[str, ...] = ()
    structure: str | None = None
    purpose: str | None = None
    repeating: bool = False
    reference_data: bool = False
    has_no_data: bool = False
    domain: str | None = None
    sas_name: str | None = None
    #: the file of the dataset (def:leaf xlink:href), relative to define.xml
    leaf: str | None = None
    comment_oid: str | None = None
    variables: tuple[Variable, ...] = ()
    line: int | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variables)

    @property
    def keys(self) -> tuple[str, ...]:
        keyed = sorted((v.key_sequence, v.name) for v in self.variables
                       if v.key_sequence is not None)
        return tuple(name for _, name in keyed)

    def variable(self, name: str) -> Variable:
        for variable in self.variables:
            if variable.name == name:
                return variable
        raise KeyError(f"{name} is not a variable of {self.name} in define.xml")


@dataclass(frozen=True)
class Standard:
    oid: str
    name: str
    type: str
    version: str
    publishing_set: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class DefineDocument:
    """What a define.xml says, by dataset name and by OID."""

    define_version: str | None
    context: str | None
    study_name: str | None
    creation: str | None
    standards: tuple[Standard, ...]
    datasets: dict[str, Dataset]  # by dataset name, document order
    codelists: dict[str, Codelist]  # by OID
    methods: dict[str, str] = field(default_factory=dict)  # OID -> description
    comments: dict[str, str] = field(default_factory=dict)  # OID -> description
    where_clauses: dict[str, WhereClause] = field(default_factory=dict)
    #: the file read, when it was a file
    path: Path | None = None
    #: "arm" when the document uses Analysis Results Metadata (its own schema applies)
    uses_arm: bool = False


# --- parsing ------------------------------------------------------------------------


def _parser() -> etree.XMLParser:
    """No entities, no DTD, no network, no huge trees: a define.xml is untrusted input."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_blank_text=False)


def _read_bytes(source: str | Path | bytes, max_bytes: int) -> tuple[bytes, Path | None]:
    if isinstance(source, bytes):
        data, path = source, None
    else:
        path = Path(source)
        try:
            with path.open("rb") as fh:
                data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise CdiscError.single(READ_FAILED, f"cannot read define.xml: "
                                    f"{exc.strerror or exc}", file=str(path)) from None
    if len(data) > max_bytes:
        raise CdiscError.single(READ_FAILED, f"define.xml is larger than {max_bytes} bytes",
                                file=str(path) if path else None)
    return data, path


def parse(source: str | Path | bytes, *, max_bytes: int = MAX_BYTES) -> etree._ElementTree:
    """The XML tree of a define.xml (file or bytes), parsed safely.

    Raises :class:`CdiscError` (DEF001) when the file cannot be read or is not
    well-formed XML, with the line and column of the first error.
    """
    data, path = _read_bytes(source, max_bytes)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line, column = (exc.position if getattr(exc, "position", None) else (None, None))
        raise CdiscError(Problem(READ_FAILED, f"define.xml is not well-formed XML: {exc.msg}",
                                 Location(file=str(path) if path else None, line=line,
                                          column=column))) from None
    return root.getroottree()


def _text(element: etree._Element | None) -> str | None:
    """The TranslatedText of a Description/Decode (English first), or None."""
    if element is None:
        return None
    texts = element.findall(_odm("TranslatedText"))
    if not texts:
        return None
    for text in texts:
        if text.get(XML_LANG, "en").lower().startswith("en"):
            return (text.text or "").strip()
    return (texts[0].text or "").strip()


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _nci(element: etree._Element) -> str | None:
    for alias in element.findall(_odm("Alias")):
        if alias.get("Context") == "nci:ExtCodeID":
            return alias.get("Name")
    return None


def _codelist(element: etree._Element) -> Codelist:
    terms = []
    for item in element:
        if item.tag == _odm("CodeListItem"):
            decode = _text(item.find(_odm("Decode")))
        elif item.tag == _odm("EnumeratedItem"):
            decode = None
        else:
            continue
        terms.append(Term(item.get("CodedValue", ""), decode, _nci(item),
                          item.get(_def("ExtendedValue")) == "Yes", _int(item.get("OrderNumber"))))
    external = element.find(_odm("ExternalCodeList"))
    return Codelist(
        oid=element.get("OID", ""), name=element.get("Name", ""),
        datatype=element.get("DataType", ""), terms=tuple(terms), nci_code=_nci(element),
        external=external.get("Dictionary") if external is not None else None,
        line=element.sourceline)


def _origins(element: etree._Element) -> tuple[Origin, ...]:
    return tuple(Origin(o.get("Type", ""), o.get("Source"), _text(o.find(_odm("Description"))))
                 for o in element.findall(_def("Origin")))


@dataclass(frozen=True)
class _ItemDef:
    element: etree._Element
    value_list: str | None


def read_define(source: str | Path | bytes | etree._ElementTree, *,
                max_bytes: int = MAX_BYTES) -> DefineDocument:
    """The datasets, variables, codelists, methods and comments of a define.xml.

    Raises :class:`CdiscError` when the file cannot be read, is not XML
    (DEF001) or is not an ODM document with a MetaDataVersion (DEF002).
    Dangling references (an ItemRef to no ItemDef, a CodeListRef to no
    CodeList) are left out here; the schema check and the consistency checks
    report what they mean.
    """
    tree = (source if isinstance(source, etree._ElementTree)
            else parse(source, max_bytes=max_bytes))
    path = Path(source) if isinstance(source, (str, Path)) else None
    root = tree.getroot()
    mdv = root.find(f"{_odm('Study')}/{_odm('MetaDataVersion')}")
    if root.tag != _odm("ODM") or mdv is None:
        raise CdiscError.single(NOT_DEFINE, "not a define.xml: no ODM/Study/MetaDataVersion "
                                "in the ODM 1.3 namespace", file=str(path) if path else None,
                                line=root.sourceline)
    codelists = {e.get("OID", ""): _codelist(e) for e in mdv.findall(_odm("CodeList"))}
    item_defs = {}
    for e in mdv.findall(_odm("ItemDef")):
        ref = e.find(_def("ValueListRef"))
        item_defs[e.get("OID", "")] = _ItemDef(e, ref.get("ValueListOID") if ref is not None
                                               else None)
    names = {oid: d.element.get("Name", "") for oid, d in item_defs.items()}
    where_clauses = {}
    for e in mdv.findall(_def("WhereClauseDef")):
        checks = tuple(RangeCheck(
            item_oid=rc.get(_def("ItemOID"), ""),
            variable=names.get(rc.get(_def("ItemOID"), "")),
            comparator=rc.get("Comparator", ""),
            values=tuple((cv.text or "") for cv in rc.findall(_odm("CheckValue"))))
            for rc in e.findall(_odm("RangeCheck")))
        where_clauses[e.get("OID", "")] = WhereClause(e.get("OID", ""), checks)
    value_lists: dict[str, list[tuple[etree._Element, etree._Element]]] = {}
    for e in mdv.findall(_def("ValueListDef")):
        value_lists[e.get("OID", "")] = [(ref, e) for ref in e.findall(_odm("ItemRef"))]

    def variable(ref: etree._Element, seen: frozenset[str] = frozenset()) -> Variable | None:
        oid = ref.get("ItemOID", "")
        item = item_defs.get(oid)
        if item is None:
            return None
        e = item.element
        code_ref = e.find(_odm("CodeListRef"))
        values: list[ValueItem] = []
        if item.value_list and item.value_list not in seen:
            refs = sorted(value_lists.get(item.value_list, []),
                          key=lambda pair: _int(pair[0].get("OrderNumber")) or 0)
            for vref, _vl in refs:
                vitem = variable(vref, seen | {item.value_list})
                if vitem is None:
                    continue
                where = tuple(where_clauses[w.get("WhereClauseOID", "")]
                              for w in vref.findall(_def("WhereClauseRef"))
                              if w.get("WhereClauseOID", "") in where_clauses)
                values.append(ValueItem(vitem, where))
        return Variable(
            oid=oid, name=e.get("Name", ""), datatype=e.get("DataType", ""),
            label=_text(e.find(_odm("Description"))) or "",
            length=_int(e.get("Length")), significant_digits=_int(e.get("SignificantDigits")),
            display_format=e.get(_def("DisplayFormat")),
            codelist=codelists.get(code_ref.get("CodeListOID", "")) if code_ref is not None
            else None,
            origins=_origins(e), mandatory=ref.get("Mandatory") == "Yes",
            order=_int(ref.get("OrderNumber")), key_sequence=_int(ref.get("KeySequence")),
            method_oid=ref.get("MethodOID"), comment_oid=e.get(_def("CommentOID")),
            value_list=tuple(values), line=e.sourceline)

    datasets: dict[str, Dataset] = {}
    for e in mdv.findall(_odm("ItemGroupDef")):
        refs = e.findall(_odm("ItemRef"))
        variables = [v for v in (variable(r) for r in refs) if v is not None]
        variables.sort(key=lambda v: (v.order is None, v.order or 0))
        klass = e.find(_def("Class"))
        leaf = e.find(_def("leaf"))
        name = e.get("Name", "")
        datasets[name.upper()] = Dataset(
            oid=e.get("OID", ""), name=name, label=_text(e.find(_odm("Description"))) or "",
            dataset_class=klass.get("Name") if klass is not None else None,
            subclasses=tuple(s.get("Name", "") for s in klass.findall(_def("SubClass")))
            if klass is not None else (),
            structure=e.get(_def("Structure")), purpose=e.get("Purpose"),
            repeating=e.get("Repeating") == "Yes",
            reference_data=e.get("IsReferenceData") == "Yes",
            has_no_data=e.get(_def("HasNoData")) == "Yes",
            domain=e.get("Domain"), sas_name=e.get("SASDatasetName"),
            leaf=leaf.get(f"{{{XLINK_NS}}}href") if leaf is not None else None,
            comment_oid=e.get(_def("CommentOID")), variables=tuple(variables),
            line=e.sourceline)
    standards = tuple(
        Standard(s.get("OID", ""), s.get("Name", ""), s.get("Type", ""), s.get("Version", ""),
                 s.get("PublishingSet"), s.get("Status"))
        for s in mdv.findall(f"{_def('Standards')}/{_def('Standard')}"))
    study_name = root.findtext(f"{_odm('Study')}/{_odm('GlobalVariables')}/{_odm('StudyName')}")
    return DefineDocument(
        define_version=mdv.get(_def("DefineVersion")), context=root.get(_def("Context")),
        study_name=study_name, creation=root.get("CreationDateTime"), standards=standards,
        datasets=datasets, codelists=codelists,
        methods={e.get("OID", ""): _text(e.find(_odm("Description"))) or ""
                 for e in mdv.findall(_odm("MethodDef"))},
        comments={e.get("OID", ""): _text(e.find(_odm("Description"))) or ""
                  for e in mdv.findall(_def("CommentDef"))},
        where_clauses=where_clauses, path=path,
        uses_arm=any(el.tag.startswith(f"{{{ARM_NS}}}") for el in root.iter()
                     if isinstance(el.tag, str)))


# --- the schema ---------------------------------------------------------------------


def schema_dir() -> Path | None:
    """The Define-XML 2.1 XSD package the ``defineutils`` package ships, or None.

    Found without importing defineutils (whose import loads xmlschema).
    """
    spec = importlib.util.find_spec("defineutils")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "validate" / "schema"
        if (folder / "cdisc-define-2.1" / "define2-1-0.xsd").is_file():
            return folder
    return None


def stylesheet_path() -> Path | None:
    """The CDISC define2-1.xsl stylesheet that ``defineutils`` ships (MIT), or None."""
    spec = importlib.util.find_spec("defineutils")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / "definehtml" / STYLESHEET_NAME
        if path.is_file():
            return path
    return None


def schema_available() -> bool:
    return schema_dir() is not None


@cache
def _schema(folder: str, arm: bool) -> etree.XMLSchema:
    main = (Path(folder) / "cdisc-arm-1.0" / "arm1-0-0.xsd" if arm
            else Path(folder) / "cdisc-define-2.1" / "define2-1-0.xsd")
    # the XSD package imports only its own files (core/xml.xsd, xlink.xsd ...): no network
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(main), parser))


@dataclass(frozen=True)
class SchemaError:
    line: int | None
    column: int | None
    message: str


def schema_errors(source: str | Path | bytes | etree._ElementTree, *,
                  folder: str | Path | None = None,
                  max_bytes: int = MAX_BYTES) -> list[SchemaError]:
    """Every violation of the Define-XML 2.1 schema, in document order ([] when valid).

    The schema is the one ``defineutils`` ships unless ``folder`` names
    another copy of the XSD package (tests use it). A document with Analysis
    Results Metadata is checked against the ARM 1.0 extension of the same
    package. Raises :class:`CdiscError` when the document is not XML (DEF001)
    or no schema is available (DEF003).
    """
    tree = source if isinstance(source, etree._ElementTree) else parse(source,
                                                                          max_bytes=max_bytes)
    base = Path(folder) if folder is not None else schema_dir()
    if base is None:
        raise CdiscError.single("DEF003", "the Define-XML 2.1 schema is not installed "
                                "(pip install defineutils)")
    arm = any(isinstance(el.tag, str) and el.tag.startswith(f"{{{ARM_NS}}}")
              for el in tree.getroot().iter())
    schema = _schema(str(base), arm)
    schema.validate(tree)
    return [SchemaError(e.line or None, e.column or None, e.message)
            for e in schema.error_log]  # type: ignore[attr-defined]


def iter_variables(dataset: Dataset) -> Iterable[Variable]:
    """The dataset's variables and, after each, its value-level items."""
    for variable in dataset.variables:
        yield variable
        for item in variable.value_list:
            yield item.variable


__all__ = ["Codelist", "Dataset", "DefineDocument", "Origin", "RangeCheck", "SchemaError",
           "Standard", "Term", "ValueItem", "Variable", "WhereClause", "iter_variables", "parse",
           "read_define", "schema_available", "schema_dir", "schema_errors", "stylesheet_path"]
