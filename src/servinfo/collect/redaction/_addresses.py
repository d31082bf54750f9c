"""Street addresses in the formats of the policy's regions.

Each format is a street part (a house number and a street word the region
uses) followed, where people write one, by a postal code and a town; the span
covers all of it, from the house number (or street word) to the town or the
code. The shapes, in RE2 and ``re`` syntax:

- UK: ``221B Baker Street, London NW1 6XE`` — number, words, a street type
  (Street, Road, Lane …), then maybe a town and a postcode (the Royal Mail
  format: outward code, space, inward code);
- US: ``1600 Pennsylvania Avenue NW, Washington, DC 20500`` — number, words,
  a street type and maybe a direction, then maybe town, state and ZIP(+4);
- DE, AT, CH: ``Musterstraße 12a, 10115 Berlin`` — a word ending in a street
  type (-straße, -strasse, -str., -weg, -gasse, -platz, -allee …) or a street
  type word (Am Markt, Hauptstr.), a number, then maybe a 4- or 5-digit code and
  a town;
- FR: ``12 bis rue de la Paix, 75002 Paris`` — number, a street type (rue,
  avenue, boulevard, place, chemin, allée, impasse, quai …), words, then maybe
  a 5-digit code and a town (``CEDEX`` too);
- IT: ``Via Roma 12, 00184 Roma (RM)`` — a street type (via, viale, piazza,
  corso, largo, vicolo …), words, a number, then maybe a 5-digit CAP, a town and
  a province;
- SG: ``10 Anson Road #12-34, Singapore 079903``, ``Blk 123 Ang Mo Kio Ave 3`` —
  a street part with its unit, and ``Singapore`` with a 6-digit code.

A UK postcode or a ``Singapore dddddd`` alone is also an address part.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["ADDRESS", "address"]

_UP = "A-ZÀ-ÖØ-Þ"
_LO = "a-zß-öø-ÿ'’"
_CAP = rf"[{_UP}][{_LO}]+(?:-[{_UP}]?[{_LO}]+)*"
_NUM = r"\d{1,5}[A-Za-z]?(?:[-/]\d{1,4}[A-Za-z]?)?"

# UK and US street types.
_EN_TYPES = (
    r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Close|Way|Place|Pl|Court|Ct|Gardens|"
    r"Square|Sq|Terrace|Crescent|Hill|Row|Mews|Boulevard|Blvd|Parkway|Pkwy|Highway|Hwy|"
    r"Circle|Cir|Walk|Grove|Park|Green|Rise|Vale|View|Wharf|Quay|Embankment|Broadway)"
)
_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[ABD-HJLNP-UW-Z]{2}"
_US_STATES = (
    r"(?:AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|"
    r"NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY)"
)
# A street's words: "Baker", "5th", "W" ("500 W 42nd Street").
_EN_WORD = rf"(?:{_CAP}|\d{{1,3}}(?:st|nd|rd|th)|[NSEW]\.?)"
_EN_STREET = (
    rf"\b{_NUM},?[ ](?:{_EN_WORD}[ ]){{1,4}}{_EN_TYPES}\.?(?:[ ](?:NW|NE|SW|SE|N|S|E|W))?"
    r"(?:,?[ ](?:Apt|Suite|Ste|Unit|Flat|Fl|Floor)\.?[ ]?#?[A-Za-z0-9-]{1,6})?"
)
_EN_TAIL = (
    rf"(?:,?[ ](?:{_CAP}[ ]?){{1,3}}(?:,?[ ]{_US_STATES}[ ]\d{{5}}(?:-\d{{4}})?|"
    rf",?[ ]{_UK_POSTCODE})|,[ ](?:{_CAP}[ ]?){{1,3}}|,?[ ]{_UK_POSTCODE})?"
)

# German, Austrian and Swiss street names.
_DE_SUFFIX = (
    r"(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|chaussee|steig|pfad|"
    r"markt|graben|berg|hof|tor|brücke|bruecke|park|garten|zeile|kai|quai)"
)
_DE_STREET = (
    rf"\b(?:[{_UP}][{_LO}]*{_DE_SUFFIX}|(?:{_CAP}[ -])+(?:Straße|Strasse|Str\.|Weg|Gasse|"
    rf"Platz|Allee|Ring|Damm|Ufer)|(?:Am|An der|Auf dem|Im|In der|Zum|Zur|Unter den)[ ]{_CAP})"
    rf"[ ]{_NUM}"
)
_DE_TAIL = rf"(?:,?[ ](?:D-|CH-|A-)?\d{{4,5}}[ ]{_CAP}(?:[ ](?:am|an der|im)[ ]{_CAP})?)?"

# French.
_FR_TYPES = (
    r"(?:rue|avenue|av\.|bd|boulevard|place|pl\.|chemin|ch\.|allée|allee|impasse|quai|route|"
    r"cours|square|passage|voie|faubourg|rte|sentier)"
)
_FR_STREET = (
    rf"\b{_NUM}(?:[ ](?:bis|ter|quater))?,?[ ](?i:{_FR_TYPES})[ ]"
    rf"(?:(?:de la|de l'|du|des|de|d'|la|le|les|l')[ ]?)?(?:{_CAP}|\d{{1,2}})"
    rf"(?:[ ](?:(?:de la|de|du|des|d'|la|le|les|et)[ ])?{_CAP}){{0,4}}"
)
_FR_TAIL = rf"(?:,?[ ](?:F-)?\d{{5}}[ ]{_CAP}(?:[ -]{_CAP})*(?:[ ]Cedex(?:[ ]\d{{1,2}})?)?)?"

# Italian.
_IT_TYPES = (
    r"(?:Via|Viale|V\.le|Piazza|P\.za|Piazzale|Corso|C\.so|Largo|Vicolo|Strada|Contrada|"
    r"Lungomare|Lungotevere|Borgo|Salita|Galleria)"
)
_IT_STREET = (
    rf"\b(?i:{_IT_TYPES})[ ](?:(?:del|della|dei|degli|delle|di|da|XX|IV|G\.|S\.)[ ])?{_CAP}"
    rf"(?:[ ](?:(?:del|della|dei|degli|delle|di|da|e)[ ])?(?:{_CAP}|[IVXL]+))*"
    rf",?[ ](?:n\.[ ]?)?{_NUM}"
)
_IT_TAIL = rf"(?:,?[ ](?:I-)?\d{{5}}[ ]{_CAP}(?:[ ]{_CAP})*(?:[ ]\([A-Z]{{2}}\))?)?"

# French and Italian street names as Switzerland writes them (and Italy): the
# street type first, the number after the name, a 4- or 5-digit code.
_TYPE_FIRST = (
    r"(?:Rue|Chemin|Avenue|Route|Place|Quai|Boulevard|Allée|Impasse|Ruelle|Sentier|Promenade|"
    r"Via|Viale|Piazza|Piazzale|Corso|Largo|Vicolo|Strada|Contrada|Salita)"
)
_TYPE_FIRST_STREET = (
    rf"\b{_TYPE_FIRST}[ ]"
    r"(?:(?:de la|de l'|du|des|de|d'|del|della|dei|degli|delle|di|da|al|alla)[ ]?)?"
    rf"{_CAP}(?:[ ](?:(?:de la|de|du|des|d'|la|le|les|et|del|della|dei|di|e)[ ])?{_CAP}){{0,3}}"
    rf",?[ ]{_NUM}"
)
_CODE_TOWN_TAIL = (
    rf"(?:,?[ ](?:CH-|I-|F-)?\d{{4,5}}[ ]{_CAP}(?:[ -]{_CAP})*(?:[ ]\([A-Z]{{2}}\))?)?"
)

# Singapore.
_SG_STREET = (
    rf"\b(?:(?:Blk|Block)[ ])?\d{{1,4}}[A-Z]?[ ](?:{_CAP}[ ]){{1,4}}(?:{_EN_TYPES}|Ave|Avenue|"
    r"Street|Crescent|Central|Link|Walk|Rise)(?:[ ]\d{1,2})?(?:,?[ ]#\d{2,3}-\d{2,5})?"
)
_SG_TAIL = r"(?:,?[ ]Singapore[ ]\d{6})?"

ADDRESS: Final = "|".join(
    [
        f"{_EN_STREET}{_EN_TAIL}",
        f"{_DE_STREET}{_DE_TAIL}",
        f"{_FR_STREET}{_FR_TAIL}",
        f"{_IT_STREET}{_IT_TAIL}",
        f"{_TYPE_FIRST_STREET}{_CODE_TOWN_TAIL}",
        f"{_SG_STREET}{_SG_TAIL}",
        r"\bSingapore[ ]\d{6}\b",
        rf"\b{_UK_POSTCODE}\b",
    ]
)

_UK_POSTCODE_ALONE = re.compile(_UK_POSTCODE)
_TRAILING_PUNCTUATION = ",. "


def address(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The address span in ``text[start:end]``, or ``None``.

    A UK postcode alone counts only when it has both letters and digits in the
    places the format puts them and stands apart (not inside an identifier).
    """
    candidate = text[start:end]
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    if before.isalnum() or before in "_-/." or after.isalnum() or after in "_-/@":
        return None
    if _UK_POSTCODE_ALONE.fullmatch(candidate) is not None and " " not in candidate:
        return None  # "SW1A1AA" unspaced is as often a code of something else
    trimmed = candidate.rstrip(_TRAILING_PUNCTUATION)
    return start, start + len(trimmed)
