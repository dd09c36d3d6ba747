"""Object identifiers (OIDs) shared by define.xml and Dataset-JSON.

Dataset-JSON's ``itemOID``/``itemGroupOID`` must equal the ``ItemDef``/
``ItemGroupDef`` OIDs of the define.xml beside it, so every writer takes its
OIDs from these functions and nothing else builds one by hand.

The conventions are those of the official Define-XML 2.1 examples
(``defineV21-SDTM.xml``, ``defineV21-ADaM.xml``): a prefix naming the kind
of object, then dataset, variable and values joined with ``.``::

    >>> item_group_oid("DM"), item_oid("DM", "AGE")
    ('IG.DM', 'IT.DM.AGE')
    >>> value_list_oid("VS", "VSORRES"), value_item_oid("VS", "VSORRES", ("VSTESTCD", "DIABP"))
    ('VL.VS.VSORRES', 'IT.VS.VSORRES.DIABP')
    >>> where_clause_oid("VS", ("VSTESTCD", "DIABP"))
    'WC.VS.VSTESTCD.DIABP'
    >>> where_clause_oid("LB", ("LBTESTCD", "HCT"), ("LBSPEC", "BLOOD"))
    'WC.LB.LBTESTCD.HCT.LBSPEC.BLOOD'
    >>> codelist_oid("SEX"), codelist_oid("DOMAIN", dataset="DM"), method_oid("ADSL", "TRTSDT")
    ('CL.SEX', 'CL.DM.DOMAIN', 'MT.ADSL.TRTSDT')

Every part is a *token*: letters, digits, ``_`` and ``-`` stay as they are;
any other character (``.``, space, ``%``, non-ASCII ...) is written as
``%XX`` per UTF-8 byte, and an empty value as a lone ``%``. So a value can
never be mistaken for the ``.`` separator, and two different inputs never give
the same OID (a where clause on ``"A B"`` and one on ``"A_B"`` stay distinct)::

    >>> where_clause_oid("TS", ("TSPARMCD", "A.B C"))
    'WC.TS.TSPARMCD.A%2EB%20C'

A condition is ``(variable, value)`` (comparator EQ), ``(variable, (v1, v2))``
(comparator IN; values joined with ``+``) or ``(variable, comparator, value)``
for another comparator, which is written after the variable with ``~``::

    >>> where_clause_oid("ADQSADAS", ("PARAMCD", "NE", "ACTOT"))
    'WC.ADQSADAS.PARAMCD~NE.ACTOT'
    >>> where_clause_oid("ADQSADAS", ("PARAMCD", ("ACITM01", "ACITM02")))
    'WC.ADQSADAS.PARAMCD.ACITM01+ACITM02'

This module imports nothing of ours (it is part of :mod:`cdisc.model`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["codelist_oid", "comment_oid", "item_group_oid", "item_oid", "leaf_id",
           "metadata_version_oid", "method_oid", "study_oid", "token", "value_item_oid",
           "value_list_oid", "where_clause_oid"]

_PLAIN = re.compile(r"[A-Za-z0-9_-]+")
_VERSION = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_EQUALITY = frozenset({"EQ", "IN"})

#: a where-clause condition: (variable, value), (variable, (values...)) or
#: (variable, comparator, value or values)
Condition = Sequence[object]


def token(value: object) -> str:
    """One part of an OID: unchanged if plain, else ``%XX``-escaped (injective)."""
    text = str(value)
    if _PLAIN.fullmatch(text):
        return text
    if not text:
        return "%"
    return "".join(ch if _PLAIN.fullmatch(ch) else
                   "".join(f"%{b:02X}" for b in ch.encode("utf-8")) for ch in text)


def study_oid(study: str) -> str:
    """``STDY.<STUDYID>``: the define.xml Study OID and Dataset-JSON ``studyOID``."""
    return f"STDY.{token(study)}"


def metadata_version_oid(study: str, standard: str, version: str) -> str:
    """``MDV.<STUDYID>.<STANDARD>.<VERSION>``, e.g. ``MDV.PECOMA.SDTMIG.3.4``: the
    define.xml MetaDataVersion OID and Dataset-JSON ``metaDataVersionOID``.

    The version is the last part, so its dots are kept (``3.4``, not ``3%2E4``).

    >>> metadata_version_oid("PECOMA", "SDTMIG", "3.4")
    'MDV.PECOMA.SDTMIG.3.4'
    """
    version_part = version if _VERSION.fullmatch(version) else token(version)
    return f"MDV.{token(study)}.{token(standard)}.{version_part}"


def item_group_oid(dataset: str) -> str:
    """``IG.<DATASET>``: the ItemGroupDef OID and Dataset-JSON ``itemGroupOID``."""
    return f"IG.{token(dataset)}"


def item_oid(dataset: str, variable: str) -> str:
    """``IT.<DATASET>.<VARIABLE>``: the ItemDef OID and Dataset-JSON ``itemOID``."""
    return f"IT.{token(dataset)}.{token(variable)}"


def value_list_oid(dataset: str, variable: str) -> str:
    """``VL.<DATASET>.<VARIABLE>``: the def:ValueListDef describing ``variable``."""
    return f"VL.{token(dataset)}.{token(variable)}"


def _values(values: object) -> str:
    if isinstance(values, (list, tuple)):
        return "+".join(token(v) for v in values)
    return token(values)


def _condition(condition: Condition) -> tuple[str, str]:
    """(variable part, value part) of one condition."""
    if len(condition) == 2:
        variable, values = condition
        return token(variable), _values(values)
    if len(condition) == 3:
        variable, comparator, values = condition
        comparator = str(comparator).upper()
        variable_part = token(variable)
        if comparator not in _EQUALITY:
            variable_part += "~" + token(comparator)
        return variable_part, _values(values)
    raise ValueError(f"a where-clause condition is (variable, [comparator,] value): {condition!r}")


def where_clause_oid(dataset: str, *conditions: Condition) -> str:
    """``WC.<DATASET>.<VAR>.<VALUE>[.<VAR2>.<VALUE2>...]``: one def:WhereClauseDef.

    Named by its conditions (as in the SDTM example), so the same where
    clause can be shared by every value list of the dataset that needs it.
    """
    if not conditions:
        raise ValueError("a where clause needs at least one condition")
    parts = [token(dataset)]
    for condition in conditions:
        parts.extend(_condition(condition))
    return "WC." + ".".join(parts)


def value_item_oid(dataset: str, variable: str, *conditions: Condition) -> str:
    """``IT.<DATASET>.<VARIABLE>.<VALUE>[.<VAR2>.<VALUE2>...]``: a value-level ItemDef.

    As in the examples (``IT.VS.VSORRES.DIABP``, ``IT.LB.LBORRES.HCT.LBSPEC.BLOOD``)
    the first condition gives only its value (its variable is the value
    list's key, e.g. VSTESTCD, QNAM or PARAMCD); later ones give both.
    """
    if not conditions:
        raise ValueError("a value-level item needs at least one condition")
    first_variable, first_value = _condition(conditions[0])
    parts = [token(dataset), token(variable)]
    if "~" in first_variable:  # keep a non-equality comparator distinct
        parts.append(first_variable.split("~", 1)[1])
    parts.append(first_value)
    for condition in conditions[1:]:
        parts.extend(_condition(condition))
    return "IT." + ".".join(parts)


def codelist_oid(codelist: str, dataset: str | None = None) -> str:
    """``CL.<CODELIST>`` (name or NCI code), or ``CL.<DATASET>.<CODELIST>`` for a
    dataset-specific subset such as ``CL.DM.DOMAIN``."""
    if dataset:
        return f"CL.{token(dataset)}.{token(codelist)}"
    return f"CL.{token(codelist)}"


def method_oid(dataset: str, variable: str, *conditions: Condition) -> str:
    """``MT.<DATASET>.<VARIABLE>`` (ADaM example convention: one method per variable),
    with the value-level conditions appended as in :func:`value_item_oid` when a
    method belongs to one value (e.g. ``MT.ADQSADAS.AVAL.ACTOT``)."""
    if conditions:
        return "MT." + value_item_oid(dataset, variable, *conditions)[len("IT."):]
    return f"MT.{token(dataset)}.{token(variable)}"


def comment_oid(dataset: str, variable: str | None = None) -> str:
    """``COM.<DATASET>`` or ``COM.<DATASET>.<VARIABLE>``."""
    if variable is None:
        return f"COM.{token(dataset)}"
    return f"COM.{token(dataset)}.{token(variable)}"


def leaf_id(dataset: str) -> str:
    """``LF.<DATASET>``: the def:leaf of a dataset's file."""
    return f"LF.{token(dataset)}"
