"""Which numbers a SAS transport file stores exactly: one rule for reader and writer.

SAS XPORT version 5 (SAS Technical Support document TS-140, "The record layout
of a data set in SAS transport (XPORT) format") stores every numeric value as
an 8-byte IBM System/370 hexadecimal float: a sign bit, a 7-bit exponent of 16
biased by 64, and a 56-bit fraction. So

* the largest magnitude is ``(1 - 16**-14) * 16**63`` (:data:`IBM_MAX`,
  about 7.2370055773322621e75);
* the smallest normalised magnitude is ``16**-65`` (:data:`IBM_TINY`, about
  5.397605346934028e-79); anything smaller is stored as zero;
* an IEEE double (53-bit significand) fits the 56-bit fraction even after the
  hex normalisation shift of up to 3 bits, so within the range every double
  converts exactly -- but the value is a double first, so an integer beyond
  ``2**53`` (:data:`EXACT_INTEGERS`) may already have been rounded, and a
  decimal with more than 15-17 significant digits may not read back as written.

:data:`WRITABLE_MAX` is the bound the writer actually enforces: ReadStat's
IEEE-to-IBM conversion saturates from ``2**249`` (about 9.05e74, below
:data:`IBM_MAX`), so larger magnitudes would come back as the IBM maximum.

This module imports nothing else of the package so the source reader, the XPT
writer and the validator can share it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

#: largest magnitude of an IBM/370 double (TS-140)
IBM_MAX = (1.0 - 16.0**-14) * 16.0**63
#: smallest normalised magnitude of an IBM/370 double; smaller ones are stored as 0
IBM_TINY = 16.0**-65
#: magnitudes from here on cannot be written through ReadStat (it saturates)
WRITABLE_MAX = 2.0**249
#: every integer up to this magnitude is exact in a double, beyond it not all are
EXACT_INTEGERS = 2**53
#: a decimal with at most this many significant digits always reads back as written
SAFE_DIGITS = 15

_WRITABLE_MAX = Decimal(WRITABLE_MAX)
_IBM_TINY = Decimal(IBM_TINY)  # a power of two: exact


def storage_problem(text: str, stored: float, *, integer: bool = False
                    ) -> tuple[str, str] | None:
    """Why the number written as ``text`` cannot be stored as ``stored``, or None.

    The answer is ``(kind, reason)``: kind ``"range"`` for a magnitude outside
    what a transport file holds (too large, or so small it would become 0),
    ``"precision"`` for a number inside the range that would change.

    ``stored`` is the double the text was parsed into. The text must be stored
    as the same decimal value: compared as decimals with the shortest text that
    reads back as ``stored`` (so ``0.1`` is fine, ``0.1000000000000000055511``
    is not), inside the transport range, and for integers within ``2**53``.

    >>> storage_problem("9007199254740993", 9007199254740992.0, integer=True)[0]
    'precision'
    >>> storage_problem("1e-400", 0.0)[0]
    'range'
    >>> storage_problem("0.1000000000000000055511", 0.1)[1]
    'it cannot be stored exactly: a double holds it as 0.1'
    >>> storage_problem("0.1", 0.1) is None
    True
    """
    try:
        exact = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    if not exact.is_finite():
        return None
    if exact == 0:
        return None
    magnitude = abs(exact)
    if magnitude >= _WRITABLE_MAX:
        return "range", ("too large for a SAS transport file (magnitudes must be below "
                          f"2**249, about {WRITABLE_MAX:.3g})")
    if magnitude < _IBM_TINY:
        return "range", ("too small for a SAS transport file: it would be stored as 0 (the "
                          f"smallest magnitude is 16**-65, about {IBM_TINY:.2g})")
    if integer and magnitude > EXACT_INTEGERS:
        return "precision", (f"the integer is beyond 2**53 ({EXACT_INTEGERS}), where a "
                              "double cannot hold every integer exactly")
    shortest = repr(float(stored))
    if Decimal(shortest) != exact:
        return "precision", f"it cannot be stored exactly: a double holds it as {shortest}"
    return None
