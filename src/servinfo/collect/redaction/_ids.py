"""National identifiers: python-stdnum where it has them, the rest written here.

python-stdnum checks the Swiss AHV number (``ch.ssn``'s rule: ``756`` and
stdnum's EAN-13 check digit), the German tax
id (``de.idnr``), the French NIR (``fr.nir``), the Italian codice fiscale
(``it.codicefiscale``), the Spanish DNI and NIE (``es.dni``, ``es.nie``) and the
Dutch BSN (``nl.bsn``). The US SSN has no check digit: ``us.ssn`` checks the
format rules (no area 000, 666 or 9xx, no group 00, no serial 0000; it also
refuses a few numbers published as examples). Written here, because stdnum has
neither: the UK National Insurance number (prefix and format rules of HMRC's
NIM39110) and the Singapore NRIC/FIN (weighted check letter).
"""

from __future__ import annotations

import re

from stdnum import ean
from stdnum.de import idnr as de_idnr
from stdnum.es import dni as es_dni
from stdnum.es import nie as es_nie
from stdnum.fr import nir as fr_nir
from stdnum.it import codicefiscale as it_cf
from stdnum.nl import bsn as nl_bsn
from stdnum.us import ssn as us_ssn

__all__ = ["is_national_id", "is_nino", "is_nric"]

# --- UK National Insurance number -----------------------------------------------------

# HMRC: neither letter of the prefix is D, F, I, Q, U or V; the second is not O;
# these prefixes are not allocated; the suffix is A, B, C or D.
_NINO = re.compile(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]")
_NINO_UNUSED = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def is_nino(compact: str) -> bool:
    """``AB123456C`` (no spaces, upper case) follows the NINO rules."""
    return _NINO.fullmatch(compact) is not None and compact[:2] not in _NINO_UNUSED


# --- Singapore NRIC / FIN -------------------------------------------------------------

_NRIC_WEIGHTS = (2, 7, 6, 5, 4, 3, 2)
# Check letters by remainder; S and T (citizens), F, G and M (foreigners).
_NRIC_LETTERS = {
    "S": "JZIHGFEDCBA",
    "T": "JZIHGFEDCBA",
    "F": "XWUTRQPNMLK",
    "G": "XWUTRQPNMLK",
    "M": "XWUTRQPNJLK",
}
_NRIC_OFFSET = {"S": 0, "T": 4, "F": 0, "G": 4, "M": 3}


def is_nric(compact: str) -> bool:
    """``S1234567D`` (upper case) has the right check letter for its prefix."""
    if len(compact) != 9 or compact[0] not in _NRIC_LETTERS or not compact[1:8].isdigit():
        return False
    total = _NRIC_OFFSET[compact[0]] + sum(
        int(d) * w for d, w in zip(compact[1:8], _NRIC_WEIGHTS, strict=True)
    )
    if compact[0] == "M":
        return _NRIC_LETTERS["M"][10 - total % 11] == compact[8]
    return _NRIC_LETTERS[compact[0]][total % 11] == compact[8]


# --- all together ---------------------------------------------------------------------


_DASHED_SSN = re.compile(r"\d{3}-\d{2}-\d{4}")
_SEPARATORS = re.compile(r"[\s.-]")
_GROUPED_IDNR = re.compile(r"\d{2} \d{3} \d{3} \d{3}")


def _us_ssn(compact: str, written: str) -> bool:
    # Only the dashed form alone: a bare nine-digit run is anything.
    return _DASHED_SSN.fullmatch(written) is not None and us_ssn.is_valid(compact)


def is_national_id(written: str, *, in_context: bool) -> bool:
    """``written`` (as found, separators and all) is a national identifier.

    ``in_context``: its name stands before it ("BSN", "Steuer-ID", "SSN"), so
    bare digit runs whose check digit passes count too.
    """
    compact = _SEPARATORS.sub("", written).upper()
    if not compact:
        return False
    if compact[0].isalpha():
        if len(compact) == 9:
            return is_nino(compact) or is_nric(compact) or es_nie.is_valid(compact)
        return len(compact) == 16 and it_cf.is_valid(compact)
    length = len(compact)
    if length == 9 and compact[-1].isalpha():
        return es_dni.is_valid(compact)
    if length == 9 and _us_ssn(compact, written):
        return True
    if length == 13 and compact.startswith("756"):
        # ch.ssn's rule (756, thirteen digits, EAN-13 check digit) on the compact
        # form at hand: its own entry point cleans the text again, char by char.
        return compact.isdigit() and ean.calc_check_digit(compact[:12]) == compact[12]
    if length == 15:
        return bool(fr_nir.is_valid(compact))
    if length == 11:
        # Grouped 2-3-3-3 as the tax office prints it, or named.
        grouped = _GROUPED_IDNR.fullmatch(written) is not None
        return (grouped or in_context) and bool(de_idnr.is_valid(compact))
    if in_context and length == 9:
        return bool(nl_bsn.is_valid(compact)) or us_ssn.is_valid(compact)
    return False
