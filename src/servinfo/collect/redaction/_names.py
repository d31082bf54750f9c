"""People's names in free text: context rules, helped by lists of first names.

A name is a run of one to four capitalised words (``Anne-Marie``, ``O'Brien``,
``Müller``, ``van der Berg`` with its particles, an initial ``J.``). Such runs
are everywhere in tickets (``Null Pointer``, ``Load Balancer``), so a run is a
name only where the text says so (each rule in English, German, French and
Italian):

(1) after a title: Mr, Mrs, Ms, Dr, Prof, Frau, Herr, Mme, M., Dott., Sig.ra …;
(2) after a greeting: Hi, Dear, Hallo, Liebe, Bonjour, Cher, Ciao, Gentile …;
(3) after a sign-off, on the same or the next line or after a blank line (the
    signature): Regards, Thanks, Viele Grüße, Im Auftrag, Cordialement,
    Cordiali saluti …;
(4) after words that introduce a person: "my colleague", "meine Kollegin",
    "ma collègue", "il mio collega", "my name is", "ich heiße", "je m'appelle",
    "mi chiamo", "my mother", "spoke with", "assigned to", "assigné à",
    "in copia", "signed for by", "login ok for" …, and field labels and keys
    (``Name:``, ``Kunde:``, ``Nom :``, ``Reviewer:``, ``display_name=``,
    ``"displayName":``, ``user.name=``); after a key or an audit verb, a name
    in capitals too (``kunde="ODA BRANDHORST"``, ``CARDHOLDER: LINDQVIST, ASTRID``);
(5) beside an e-mail address: before it in angle brackets or parentheses
    (``Jane Doe <jane@…>``), after it in parentheses, or before it with a
    separator when its local part holds one of the name's words (CSV rows,
    "Anna Keller, erreichbar über anna.keller@…");
(5a) as chats write people: a speaker (``[12:01] Anna:``, ``Agent Anna:``,
    ``[12:01] anna:`` in lower case), a mention (``@Anna``), a greeting in lower
    case (``hi anna,``), the writer's "Anna here:";
(6) anywhere, when the first word is a first name of the lists in Faker's
    person providers (``faker``, MIT, read at start, nothing downloaded) and a
    capitalised surname follows: the policy's languages and every other locale
    written in Latin script (customers come from everywhere), less first names
    that are common words here ("Will", "Okta", "Lies").

The span is the name alone, without title or greeting. Words that are never a
name, though capitalised after a greeting ("Hi Team", "Dear Customer", "Hallo
zusammen", "Bonjour Madame"), names of products and places common in logs,
departments ("Data Engineering", "Ufficio Acquisti"), what an organisation's
name ends with ("Corporation", "Traders"), speakers of logs ("kernel:") and
annotations ("@Override"), end or cancel a candidate; so does a compound of one
("Kundenservice-Team"). A name alone at the end of the text must follow a
sentence or a blank line: the last line of a block of lines without punctuation
is an organisation's ("Customer Success Team\nNorthwind Traders").
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

__all__ = ["CONTEXT_RULES", "LISTED", "Rule", "first_names", "listed_pattern", "person"]

# --- word lists as prefix trees -------------------------------------------------------

#: A prefix tree: each letter its subtree, "" where a word ends.
_Tree = dict[str, "_Tree"]
_META = frozenset("\\.^$*+?()[]{}|")


def _factored(alternation: str) -> str:
    """``alternation`` (``(?i:…)`` or ``(?:…)`` of literal words) with common prefixes shared.

    Python's ``re`` tries each word of an alternation in turn ("my colleague",
    "my coworker" … two hundred of them) where a prefix tree tries each letter
    once; RE2 reads the same strings either way. At one place only words that
    are prefixes of one another can match together, and backtracking tries them
    in the order they are written: a tree keeps that order between each such
    pair, so a word that would break it starts the next tree. ``\\.`` is a dot
    and `` ?`` an optional space (two words); any other pattern syntax, or
    capitals in a case-insensitive list, keep the alternation as written.
    """
    head = "(?i:" if alternation.startswith("(?i:") else "(?:"
    if not alternation.startswith(head) or not alternation.endswith(")"):
        return alternation
    fold = head == "(?i:"
    words: list[str] = []
    for written in alternation[len(head) : -1].split("|"):
        variants = [written.replace("\\.", "\0")]
        if " ?" in written:
            variants = [v.replace(" ?", " ", 1) for v in variants] + [
                v.replace(" ?", "", 1) for v in variants
            ]
        for variant in variants:
            if any(c in _META for c in variant.replace("\0", "")) or (
                fold and variant != variant.lower()
            ):
                return alternation
            words.append(variant.replace("\0", "."))
    if len(set(words)) != len(words) or not _distinct_letters(words, fold):
        return alternation
    # Runs of words, each in one tree as long as it keeps the order: one for most lists.
    trees: list[_Tree] = [{}]
    for word in words:
        if not _added(trees[-1], word):
            trees.append({})
            _added(trees[-1], word)
    return f"{head}{'|'.join(_emitted(tree) for tree in trees)})"


def _added(tree: _Tree, word: str) -> bool:
    """Adds ``word`` to ``tree`` unless the tree would try it before a shorter word it starts.

    Branches are tried in the order they were added, so a new word comes after
    every word it starts, and after the longer ones it is a prefix of, as
    written; only a branch toward it added before a shorter word ended would
    put it first.
    """
    node = tree
    for char in word:
        if "" in node and char in node and list(node).index(char) < list(node).index(""):
            return False
        node = node.get(char, {})
    node = tree
    for char in word:
        node = node.setdefault(char, {})
    node[""] = {}
    return True


def _distinct_letters(words: list[str], fold: bool) -> bool:
    """No two different letters of ``words`` match the same character (``re``'s case folding)."""
    if not fold:
        return True
    chars = sorted(set("".join(words)))
    for char in chars:
        pattern = re.compile(re.escape(char), re.IGNORECASE)
        if any(other != char and pattern.fullmatch(other) for other in chars):
            return False
    return True


def _emitted(node: _Tree) -> str:
    """The pattern of a tree: each branch a letter and its subtree, "" where a word ends."""
    branches = [
        "" if char == "" else (re.escape(char) if char in _META else char) + _emitted(child)
        for char, child in node.items()
    ]
    return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"


# --- the shape of a name --------------------------------------------------------------

# Latin-1 and the capitals of Latin Extended-A ("Łukasz", "Šimek", "Özdemir").
_UPPER = "A-ZÀ-ÖØ-ÞĀĂĄĆĈĊČĎĐĒĔĖĘĚĜĞĠĢĤĦĨĪĬĮİĴĶĹĻĽĿŁŃŅŇŌŎŐŒŔŖŘŚŜŞŠŢŤŦŨŪŬŮŰŲŴŶŸŹŻŽ"
# Latin-1 and all of Latin Extended-A ("Yılmaz", "Dvořák"): the block mixes its
# cases, and a capital inside a word is harmless here.
_LOWER = "a-zß-öø-ÿā-ž"
# Lower case only, for names typed in lower case in chats ("łukasz: hi").
_LOWER_ONLY = "a-zß-öø-ÿāăąćĉċčďđēĕėęěĝğġģĥħĩīĭįıĵķĺļľŀłńņňōŏőœŕŗřśŝşšţťŧũūŭůűųŵŷźżž"
# "Anne-Marie", "O'Brien", "McDonald", "D'Angelo"; an initial "J."
_WORD = (
    rf"(?:(?:[{_UPPER}]['’])?[{_UPPER}][{_LOWER}]+(?:[-'’][{_UPPER}]?[{_LOWER}]+)?"
    rf"(?:[{_UPPER}][{_LOWER}]+)?|[{_UPPER}]\.)"
)
_PARTICLE = r"(?:van der|van den|van|von der|von|de la|del|della|de|di|da|du|le|la|dos|zu|ten|ter)"
#: A capitalised word (for the list rule's classifier, see :func:`listed_pattern`).
CAPITALISED: Final = rf"[{_UPPER}][{_LOWER}]+"
#: One to four words, particles between them.
FULL_NAME: Final = rf"{_WORD}(?:[ ](?:{_PARTICLE}[ ])?{_WORD}){{0,3}}"
# After a title the name may start with its particle ("Frau van der Meulen", "Mme du Plessis").
_TITLED_NAME = rf"(?:{_PARTICLE}[ ])?{FULL_NAME}"
# As logs and card terminals write names: "SØREN VON ARNIM", "NGUYEN, SIDDHARTH".
_CAPS_WORD = rf"(?:[{_UPPER}]['’])?[{_UPPER}]{{2,}}(?:[-'’][{_UPPER}]{{2,}})?"
_CAPS_NAME = rf"{_CAPS_WORD}(?:,?[ ]{_CAPS_WORD}){{1,3}}"
# As people type their name in a chat: "jae-won", "marie-hélène".
_LOWER_NAME = rf"[{_LOWER_ONLY}]{{2,}}(?:[-'’][{_LOWER_ONLY}]{{2,}})?"

# (1) titles
_TITLES = _factored(
    r"(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Sir|Dame|Frau|Herr|Herrn|Mme|Mlle|Mmes|M|Me|Monsieur|Madame|"
    r"Mademoiselle|Dott|Dott\.ssa|Dottssa|Dr\.ssa|Sig|Sig\.ra|Sig\.na|Signor|Signora|Signorina|"
    r"Ing|Avv|Arch|Geom|Rag)"
)
# (2) greetings (case-insensitive)
_GREETINGS = _factored(
    r"(?i:hi|hello|hey|hiya|dear|good morning|good afternoon|good evening|morning|evening|"
    r"greetings|thanks|thank you|"
    r"thx|many thanks|danke|danke schön|vielen dank|merci|merci beaucoup|grazie|grazie mille|"
    r"hallo|hi there|liebe|lieber|sehr geehrte|sehr geehrter|guten tag|guten morgen|moin|servus|"
    r"grüezi|grüß gott|bonjour|bonsoir|salut|cher|chère|chers|coucou|ciao|salve|buongiorno|"
    r"buonasera|gentile|gentilissima|gentilissimo|caro|cara|egregio|egregia)"
)
# (3) sign-offs (case-insensitive), then a comma or a line break
_SIGN_OFFS = _factored(
    r"(?i:regards|best regards|kind regards|warm regards|many thanks|thanks|thank you|thx|"
    r"thanks in advance|thank you in advance|thanks again|with thanks|take care|talk soon|"
    r"cheers|best|best wishes|warm wishes|sincerely|yours sincerely|yours truly|yours|"
    r"all the best|"
    r"viele grüße|viele grüsse|beste grüße|liebe grüße|freundliche grüße|mit freundlichen grüßen|"
    r"mit freundlichen grüssen|herzliche grüße|schöne grüße|gruß|grüße|danke|vielen dank|"
    r"danke im voraus|vielen dank im voraus|lg|vg|mfg|"
    r"cordialement|bien cordialement|bien à vous|merci|merci d'avance|merci par avance|"
    r"salutations|salutations distinguées|sincères salutations|amitiés|bonne journée|à bientôt|"
    r"cordiali saluti|distinti saluti|saluti|saluti cordiali|cordialmente|un cordiale saluto|"
    r"un caro saluto|grazie|grazie mille|grazie in anticipo|a presto|un saluto|buona giornata|"
    # signing for someone else
    r"im auftrag|in vertretung|i\. ?a\.|i\. ?v\.|p\. ?p\.|per procura|pour ordre|p\. ?o\.)"
)
# (4) words that introduce a person (case-insensitive), and field labels
_INTRODUCERS = _factored(
    r"(?i:my colleague|my coworker|my co-worker|my manager|my boss|my wife|my husband|"
    r"my name is|i am|i'm|this is|colleague|our colleague|"
    r"mein kollege|meine kollegin|mein chef|meine chefin|kollege|kollegin|ich heiße|ich bin|"
    r"meinen kollegen|meinem kollegen|meiner kollegin|unser kollege|unsere kollegin|"
    r"unseren kollegen|unserem kollegen|unserer kollegin|"
    r"mein name ist|ma collègue|mon collègue|ma collegue|mon collegue|je m'appelle|je suis|"
    r"notre collègue|notre collegue|"
    r"mon nom est|il mio collega|la mia collega|mio collega|mia collega|mi chiamo|sono|"
    r"il nostro collega|la nostra collega|"
    r"il mio nome è|assigned to|forwarded to|escalated to|cc|signed|signed by|"
    # whom one spoke to, handed a case to, copied in, in the four languages
    r"spoke with|spoke to|talked to|talked with|speaking with|speaking to|met with|"
    r"heard from|handed over to|handed to|passed to|transferred to|reassigned to|"
    r"looping in|loop in|copying|ask|please ask|fragen sie|demandez à|chiedete a|chiedi a|"
    # family and the people one acts for: "my mother, Ngozi Osei, …"
    r"my mother|my father|my son|my daughter|my partner|my brother|my sister|my friend|"
    r"my neighbour|my neighbor|my tenant|my landlord|my client|my assistant|"
    r"meine mutter|mein vater|mein sohn|meine tochter|mein mann|meine frau|mein partner|"
    r"meine partnerin|mein bruder|meine schwester|ma mère|mon père|mon fils|ma fille|mon mari|"
    r"ma femme|mon conjoint|ma conjointe|mon frère|ma sœur|ma soeur|mia madre|mio padre|"
    r"mio figlio|mia figlia|mio marito|mia moglie|mio fratello|mia sorella|"
    # who received or signed for a delivery, who logged in
    r"signed for by|received by|collected by|picked up by|entgegengenommen von|"
    r"abgeholt von|reçu par|reçue par|retiré par|ritirato da|ritirata da|ricevuto da|"
    r"login ok for|login for|logged in as|signed in as|authenticated as|"
    r"client|the client|le client|la cliente|il cliente|"
    # whom to contact, who placed or sent something, whose greetings
    r"contact|please contact|contacter|kontaktieren sie|contattare|rivolgersi a|"
    r"rivolgetevi a|placed by|sent by|ordered by|booked by|paid by|cancelled by|"
    r"bestellt von|gesendet von|commandé par|commandée par|envoyé par|envoyée par|"
    r"ordinato da|ordinata da|inviato da|inviata da|greetings from|best wishes from|"
    r"grüße von|grüsse von|saluti da|salutations de|amitiés de|"
    r"gesprochen mit|telefoniert mit|sprach mit|übergeben an|weitergeleitet an|"
    r"zugewiesen an|in cc|in kopie|bearbeitet von|sachbearbeiter|sachbearbeiterin|"
    r"parlé avec|parlé à|transmis à|assigné à|assignée à|attribué à|attribuée à|"
    r"réattribué à|en copie|pris en charge par|prise en charge par|traité par|traitée par|"
    r"parlato con|assegnato a|assegnata a|riassegnato a|riassegnata a|inoltrato a|"
    r"in copia|preso in carico da|presa in carico da|gestito da|gestita da|"
    r"contact person|ansprechpartner|ansprechpartnerin|interlocuteur|referente|"
    r"customer|kunde|kundin|"
    r"requester|reporter|assignee|de la part de|da parte di|reported by|submitted by|created by|"
    r"opened by|posted by|raised by|signalé par|signalée par|créé par|segnalato da|segnalata da|"
    r"on behalf of|im auftrag von|au nom de|per conto di|hier ist|hier spricht|c'est|ici|"
    r"aperto da|gemeldet von|erstellt von|account holder|card holder|cardholder|holder|"
    r"titulaire|intestatario|intestataria|intestato a|intestata a|intestato al|intestato alla|"
    r"intestata alla|inhaber|inhaberin|karteninhaber|karteninhaberin|kontoinhaber|kontoinhaberin)"
)
_LABELS = _factored(
    r"(?i:name|full name|customer name|nom|nom complet|nome|nome completo|cognome|vorname|"
    r"nachname|prénom|from|von|de|da|to|an|cc|contact|kontakt|requester|reporter|assignee|"
    r"signed|signature|unterschrift|author|autor|auteur|autore|owner|user|customer|client|"
    r"cliente|kunde|kundin|benutzer|utilisateur|utente|employee|mitarbeiter|mitarbeiterin|"
    r"recipient|empfänger|destinataire|destinatario|sender|absender|expéditeur|mittente|"
    r"account holder|titulaire|intestatario|inhaber|cardholder|card holder|karteninhaber|"
    r"reviewer|approver|reviewed by|approved by|responsible|verantwortlich|prüfer|prüferin|"
    r"sign-off|signoff|signed off by|freigabe|freigegeben von|validé par|validée par|"
    r"approvato da|approvata da|contributors|participants|attendees|teilnehmer|partecipanti|"
    r"responsable|relecteur|relectrice|responsabile|revisore|referente|"
    r"karteninhaberin|kundenname|nom_client|nome_cliente)"
)
# Keys of forms, logs and JSON: user_name=, display_name=, "displayName":, user.name=
# (in lower or camel case, with their separator: not "username", a handle, nor a
# constant's name such as FULL_NAME).
_KEYS = (
    r"(?:user|customer|display|full|first|last|given|family|contact|account|holder|card|client|"
    r"sender|recipient|owner|assignee|reporter|author|employee|kunden|kontakt|nutzer|utente|"
    r"cliente)(?:[_.-](?:name|nom|nome)|Name)"
)

# Sign-offs that a name may follow after a space alone ("Gruß Matthias").
_CLOSINGS = _factored(
    r"(?i:regards|kind regards|best regards|cheers|gruß|grüße|viele grüße|liebe grüße|"
    r"beste grüße|lg|vg|cordialement|amitiés|saluti|cordiali saluti|un saluto|a presto)"
)
# What people do in a chat: "Chloe Wright joined the chat".
_EVENTS = (
    r"joined|left|has joined|has left|is typing|wrote|writes|schrieb|a écrit|ha scritto|"
    r"a rejoint|a quitté|ist beigetreten|"
    r"hat den chat|è entrat[oa]|ha lasciato"
)
_QUERY_KEYS = (
    r"name|nom|nome|cognome|nachname|vorname|prenom|prénom|first_?name|last_?name|surname|"
    r"full_?name|customer_?name|holder"
)
# Roles a chat writes before the speaker's name.
_ROLES = (
    r"agent|agente|operator|operatore|operatrice|opérateur|opératrice|operateur|support|"
    r"moderator|admin|berater|beraterin|conseiller|conseillère|consulente|advisor|adviser|rep"
)
# Where logs name a person in capitals ("assigned to ANNA KELLER").
_CAPS_INTRODUCERS = (
    r"assigned to|granted to|revoked from|reassigned to|created by|changed by|modified by|"
    r"updated by|deleted by|approved by|requested by|performed by|reported by|submitted by|"
    r"opened by|closed by|login by|logged in as|impersonating|on behalf of"
)
# Weak contexts: a person often follows, but so do products and places.
_WEAK = r"by|for|par|pour|per|von|für|di|from|de|da|dal|dalla|with|mit|avec|con|an|à"

# Words that open a clause after a name, in the four languages.
_CLAUSES = (
    r"although|though|because|since|but|who|whose|and then|so|"
    r"obwohl|weil|da|aber|der|die|und dann|"
    r"bien que|parce que|car|mais|qui|puisque|"
    r"anche se|perché|poiché|ma|che|il quale|la quale"
)

# One title or two ("Herr Dr. Müller", "Sig.ra Dott.ssa Rossi").
_TITLED = rf"(?:{_TITLES}\.?[ ]{{1,2}}){{0,2}}"


@dataclass(frozen=True)
class Rule:
    """A context rule: its pattern (the name in group ``v``) and how to read the run.

    ``skip_leading``: the run may start with words of the sentence ("Please ask
    Jane Doe <…>"), skipped; ``two_words``: the context is weak ("for", "by"),
    so a single word is not enough.
    """

    pattern: str
    skip_leading: bool = False
    two_words: bool = False
    #: The name is a URL query value: "+" and "%20" stand for a space.
    query: bool = False
    #: The name is written in capitals ("upper") or in lower case ("lower"): its
    #: words are checked as the same words capitalised.
    case: str = ""
    #: The value runs from the name to the local part of the e-mail address
    #: beside it, which must hold one of the name's words ("Kofi Osei,kofi.osei@").
    email: bool = False


#: (1)-(5), in order.
CONTEXT_RULES: Final = (
    Rule(rf"\b{_TITLES}\.?[ ]{{1,2}}{_TITLED}(?P<v>{_TITLED_NAME})"),
    Rule(rf"\b{_GREETINGS}[ ,]{{1,3}}{_TITLED}(?P<v>{FULL_NAME})"),
    # ... on the next line, or after a blank line
    Rule(
        rf"\b{_SIGN_OFFS}[ ]?[,.!]?[ ]?\r?\n(?:[ \t]*\r?\n)?[ \t]*(?:--[ ]?\r?\n)?"
        rf"(?P<v>{FULL_NAME})"
    ),
    Rule(rf"\b{_SIGN_OFFS},[ ](?P<v>{FULL_NAME})"),
    Rule(rf"\b{_CLOSINGS}[ ](?P<v>{FULL_NAME})"),
    Rule(rf"\b{_INTRODUCERS}[:,]?[ ]{{1,2}}[\"'‘“]?{_TITLED}(?P<v>{FULL_NAME})"),
    # "Name: …", and as logs and JSON write it: name="…", "customer": "…".
    Rule(rf"\b(?:{_LABELS}|{_KEYS})[\"']?[ ]?[:=][ ]{{0,2}}[\"']?{_TITLED}(?P<v>{FULL_NAME})"),
    # ... in capitals, as logs and card terminals write it (two words or more).
    Rule(
        rf"\b(?:{_LABELS}|{_KEYS})[\"']?[ ]?[:=][ ]{{0,2}}[\"']?(?P<v>{_CAPS_NAME})",
        two_words=True,
        case="upper",
    ),
    # A chat's or a log's speaker: "[12:01] Anna: …", "… joined. Anna: …",
    # "12:01 Anna: …", "Anna (12:01): …", "<Anna> …".
    Rule(rf"(?:\][ ]{{1,2}}|[.!?][ ]{{1,2}})(?P<v>{FULL_NAME})[ ]?:[ ]"),
    Rule(rf"\b\d{{1,2}}:\d{{2}}(?::\d{{2}})?[ ]{{1,2}}(?:-[ ])?(?P<v>{FULL_NAME})[ ]?:[ ]"),
    Rule(rf"(?P<v>{FULL_NAME})[ ][(\[]\d{{1,2}}:\d{{2}}(?::\d{{2}})?[)\]][ ]?:"),
    # ... after a timestamp, with a note in parentheses: "[…] Anna (eu-west-1): …".
    Rule(rf"\][ ]{{1,2}}(?P<v>{FULL_NAME})[ ]\([^()\n]+\)[ ]?:[ ]"),
    Rule(rf"(?:^|\n)<(?P<v>{FULL_NAME})>[ ]"),
    # ... with their role: "[10:02] Agent Bronagh: …", "Operatore Sveva: …".
    Rule(rf"\][ ]{{1,2}}(?i:{_ROLES})[ ](?P<v>{FULL_NAME})[ ]?:[ ]"),
    # ... typed in lower case after a timestamp in brackets: "[2026-03-01 10:02] priya: hi".
    Rule(rf"\[\d[^\]\n]{{0,40}}\][ ]{{1,2}}(?P<v>{_LOWER_NAME})[ ]?:[ ]", case="lower"),
    # A mention: "@Priya can you …" (annotations such as @Override are never names).
    Rule(rf"(?:^|[ \n(])@(?P<v>{FULL_NAME})(?:[ ,:;!?.)]|$)"),
    Rule(rf"(?P<v>{FULL_NAME})[ ](?:{_EVENTS})"),
    # A signature: the name alone at the end of the text, after a sentence or a
    # blank line; the last line of a block of lines without punctuation is an
    # organisation's ("Customer Success Team\nNorthwind Traders"), not a name.
    Rule(
        rf"(?:[.!?][ ]{{1,2}}|[.!?,:;)][ ]*\n[ ]{{0,2}}|\n[ ]*\n[ ]{{0,2}})"
        rf"(?P<v>{FULL_NAME})[.!]?[ ]*$",
        skip_leading=True,
    ),
    Rule(rf"(?:^|\s)--[ ]?(?P<v>{FULL_NAME})[ ]*(?:\n|$)"),
    # ... or after one dash ending the text: "Thanks for the help! - Anna".
    Rule(rf"[.!?)][ ]{{1,2}}-[ ]?(?P<v>{FULL_NAME})[ ]*$"),
    # A vocative ending a line: "Happy to help, Anna!".
    Rule(rf",[ ](?P<v>{FULL_NAME})![ ]*(?:\n|$)"),
    # Who did it, in parentheses: "Steps to reproduce (by Anna): …".
    Rule(rf"\((?i:by|von|par|da|di)[ ](?P<v>{FULL_NAME})\)"),
    # The writer introducing themselves: "Kofi here again: …", "Anna hier, …".
    Rule(rf"(?:^|\n|[.!?][ ])(?P<v>{FULL_NAME})[ ](?:here|hier|ici)(?:[ ]again)?[,:!.]"),
    # A greeting typed in lower case: "hi priya, …", "ciao marco!".
    Rule(
        rf"(?:^|\n|[.!?][ ])(?i:hi|hey|hello|hallo|ciao|salut|coucou|thanks|thx|merci|"
        rf"grazie|danke)[ ](?P<v>{_LOWER_NAME})(?:[,!]|$)",
        case="lower",
    ),
    # Audit logs in capitals: "role granted to SØREN NOWAK by ADMIN".
    Rule(
        rf"\b(?i:{_CAPS_INTRODUCERS})[:,]?[ ]{{1,2}}(?P<v>{_CAPS_NAME})",
        two_words=True,
        case="upper",
    ),
    Rule(rf"[?&](?i:{_QUERY_KEYS})=(?P<v>{_WORD}(?:(?:\+|%20){_WORD}){{0,3}})", query=True),
    # After a weak word, two words or more that end the sentence ("declined for
    # Wei Ling Walker."): a product goes on ("for Visual Studio Code 1.8").
    Rule(rf"\b(?i:{_WEAK})[ ]{_TITLED}(?P<v>{FULL_NAME})(?:[.;!?)]|$)", two_words=True),
    # ... or that a clause follows ("for Wei Ling Clarke although it is correct",
    # "für Anna Keller, weil …"): a product's name goes on with its version or noun.
    Rule(
        rf"\b(?i:{_WEAK})[ ]{_TITLED}(?P<v>{FULL_NAME})"
        rf"(?:,[ ]|[ ](?:{_CLAUSES})[ ,]|['’]s[ ]|[ ]\((?:\+|0)\d)",
        two_words=True,
    ),
    Rule(
        rf"(?:^|\n|[ \"'(])(?P<v>{FULL_NAME}),?[ ]{{0,2}}(?:<|\(|\[)[^ @<>()]{{1,64}}@",
        skip_leading=True,
    ),
    # A name beside its own e-mail address in a field of a CSV row or a list:
    # "17,Kofi Osei,kofi.osei@…", "Kofi Osei;k.osei@…". No counted repetition:
    # each would multiply the scan's automaton states after every capitalised word.
    Rule(
        rf"(?:^|[\n,;\t|\"])(?P<v>{FULL_NAME}[ ]?[,;\t|][ ]?[^\s@<>(),;:\"/|]+)@",
        skip_leading=True,
        two_words=True,
        email=True,
    ),
    # ... or after it, in parentheses: "priya.raman@example.com (Priya Raman)".
    Rule(rf"@[^\s@<>()]{{1,255}}[ ]?\((?P<v>{FULL_NAME})\)"),
)
_PLAIN = Rule("")
#: (6): a listed first name and a surname, anywhere.
LISTED: Final = Rule("", skip_leading=True, two_words=True)


# --- the lists ------------------------------------------------------------------------

#: Faker person providers read for first names: the policy's languages and their
#: neighbours (Swiss, Austrian, Irish, Belgian, Canadian variants). Their names
#: were read one by one for words of tickets (:data:`_NOT_FIRST_NAMES`).
_LOCALES = (
    "en_US",
    "en_GB",
    "en_IE",
    "en_CA",
    "en_AU",
    "en_NZ",
    "de_DE",
    "de_AT",
    "de_CH",
    "fr_FR",
    "fr_CH",
    "fr_BE",
    "fr_CA",
    "it_IT",
    "it_CH",
    "nl_NL",
    "es_ES",
)
#: Every other provider whose names are written in Latin script: customers come
#: from everywhere. Names in other scripts are left out: a name here is Latin
#: script (its shape above), so they could never match. These lists are long
#: and were not read one by one: their names that are common words in the
#: policy's languages (Faker's lorem word lists) are left out as well.
_MORE_LOCALES = (
    "az_AZ",
    "cs_CZ",
    "da_DK",
    "de_LI",
    "de_LU",
    "en_IN",
    "en_KE",
    "en_NG",
    "en_PK",
    "en_TH",
    "es_AR",
    "es_CA",
    "es_CL",
    "es_CO",
    "es_MX",
    "et_EE",
    "fi_FI",
    "fr_DZ",
    "ga_IE",
    "ha_NG",
    "hr_HR",
    "hu_HU",
    "id_ID",
    "ig_NG",
    "is_IS",
    "lt_LT",
    "lv_LV",
    "nl_BE",
    "no_NO",
    "pl_PL",
    "pt_BR",
    "pt_PT",
    "ro_RO",
    "sk_SK",
    "sl_SI",
    "sv_SE",
    "tr_TR",
    "tw_GH",
    "uz_UZ",
    "vi_VN",
    "yo_NG",
    "zu_ZA",
)
#: Faker's lorem word lists of the policy's languages: common words.
_WORD_LOCALES = ("en_US", "de_DE", "fr_FR", "it_IT")

#: First names that are everyday words, product names or log tokens much more
#: often than names, in tickets and logs: never a name by list alone.
_NOT_FIRST_NAMES = frozenset(
    str.split(
        "Will May June April August Mark Bill Grant Chase Page Max Hope Faith Art Jack Joy Rose "
        "Ruby Jade Crystal Amber Dash Rich Sunny Summer Autumn Winter Dawn Eve Lane Early Guy "
        "Gay Pat Van Don Ray Sky Star Angel Baby Bob Rusty Dusty Storm Rain River Brook Forest "
        "Stone Glen Dale Wood Hunter Mason Porter Cook Carter Miller Baker Taylor Parker "
        "Marshall Sterling Price Cash Chance Sage Reed Rod Gene Carol Christian Patience Honor "
        "Liberty Destiny Trinity Harmony Melody Precious Unique Neo Ace Rex Apache Oracle Delta "
        "Echo Jet Kit Lloyd Norton Paris London Berlin Florence Siena Victoria Sydney Austin "
        "Dallas Denver Phoenix Jordan Cloud Azure Java Ubuntu Debian Alpine Kafka Jenkins Maven "
        "Gradle Redis Nginx Helm Argo Grafana Kibana Loki Tempo Mimir Consul Vault Nomad Packer "
        "Chrome Edge Safari Opera Firefox Android Alexa Siri Cortana Pixel Galaxy Mac Linux "
        "Windows Office Teams Slack Zoom Jira Confluence Sentry Datadog Lambda Aurora Dynamo "
        "Fargate Athena Apollo Hermes Juno Mercury Nova Orion Atlas Titan Iris Luna Sol Vega "
        "Della Monday Tuesday Wednesday Thursday Friday Saturday Sunday Gen Major General Rue "
        "Via Olive Pearl Ivy Hazel Holly Heather Daisy Poppy Violet Basil Clay Cliff Gale Hardy "
        "Herr Frau Madame Monsieur Edit "
        # ... of the other locales (Scandinavian, Turkish, Nigerian, Kenyan, Icelandic …
        # lists): words of tickets and logs in the four languages, places, products,
        # surnames and famous people that a capitalised word follows as often as not
        "Alfa Anderson Ange Anon Astride Atlanta Aud Bali Bent Bergen Beste Bil Bitten "
        "Blessing Bogey Borg Braga Canal Capa Charity Collins Comfort Constant Dalla Darling "
        "Darwin Davis Del Divan Dodo Dom Duke Edison Eider Einer Elver Emerald Emerson Etna "
        "Evans Fancy Fella Forum Gal Garibaldi Georgian Gibson Greet Gregorian Gunner Gust "
        "Harsh Hind Huxley Ibn Ide Imam Immaculate Indiana Innocent Ion Jail Jefferson Johnson "
        "Joke Junior Kaiser Kali Karma Kennedy Lady Lage Lan Lavender Lenin Levis Lies "
        "Livingstone Lode Lone Loot Love Lucky Ludo Macs Mad Magnolia Maj Manila Mercy Milton "
        "Minerva Mist Muslim Nadir Nail Nas Nazi Newton Nil Ninja Nubia Nurser Odd Okta "
        "Olympia Oman Otis Owe Pak Paw Prudence Purity Queen Raid Reagan Reine Rim Roar Rob "
        "Roberts Robinson Rodgers Rogers Rosy Rune Rut Saal Sad Sadat Saddam Saga Salami Santa "
        "Scarlet Serine Sever Sine Smith Sonata Sys Tan Tiara Tilde Tone Toon Tor Tore Toy "
        "Tri Tutu Uni Valid Venus Ver Vic Vid Viking Wage Ward Washington Wilder Williams "
        "Wilson Yoga"
    )
)


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """First names of Faker's person providers (:data:`_LOCALES`, :data:`_MORE_LOCALES`).

    Less the stop list, the words that are never a name, and names the name's
    shape cannot read ("Ștefan"); the other locales' names less common words too.
    """
    common = _faker_words("lorem", _WORD_LOCALES, ("word_list",))
    reviewed = _faker_words("person", _LOCALES, _FIRST_NAME_LISTS)
    more = _faker_words("person", _MORE_LOCALES, _FIRST_NAME_LISTS)
    names = reviewed | {n for n in more if n.lower() not in common}
    shape = re.compile(CAPITALISED)
    return frozenset(
        n
        for n in names
        if len(n) > 2
        and shape.fullmatch(n)
        and n not in _NOT_FIRST_NAMES
        and n not in _NOT_NAME_WORDS
    )


_FIRST_NAME_LISTS = ("first_names", "first_names_male", "first_names_female")


def _faker_words(kind: str, locales: Iterable[str], attributes: Iterable[str]) -> set[str]:
    """The strings of ``attributes`` of Faker's ``kind`` providers for ``locales``.

    Lorem words come lower-cased; a locale Faker does not have is skipped.
    """
    words: set[str] = set()
    for locale in locales:
        try:
            module = importlib.import_module(f"faker.providers.{kind}.{locale}")
        except ImportError:
            continue
        for attribute in attributes:
            # Lists, tuples or dicts of weights; some providers compute theirs (a property).
            values = getattr(module.Provider, attribute, ())
            if isinstance(values, (str, property)):
                continue
            words.update(v.lower() if kind == "lorem" else v for v in values if isinstance(v, str))
    return words


def listed_pattern(first: str | None = None) -> str:
    """(6): a listed first name, then a capitalised surname (RE2 and ``re`` syntax).

    The scan's automaton holds the list, each name by its first
    :data:`_SCAN_PREFIX` letters: the whole list (some 16,000 names) would
    outgrow the DFA's memory and leave RE2 on its slow engine. The classifier
    that reads the few candidates found takes any capitalised ``first`` word,
    and :func:`person` looks it up in :func:`first_names` (``re`` would try the
    names one by one).
    """
    alternation = first or _scan_alternation()
    surname = rf"[{_UPPER}][{_LOWER}]+(?:[-'’][{_UPPER}]?[{_LOWER}]+)?(?:[{_UPPER}][{_LOWER}]+)?"
    return (
        rf"\b(?P<v>(?:{alternation})(?:[ ][{_UPPER}]\.)?[ ](?:{_PARTICLE}[ ])?{surname}"
        rf"(?:[ ]{surname})?)\b"
    )


#: Letters of a first name the scan holds (8,600 prefixes of four letters; five
#: would be 12,200, too many for the DFA).
_SCAN_PREFIX = 4


def _scan_alternation() -> str:
    """The listed first names as the scan finds them: a prefix, then the name's other letters."""
    prefixes = {n[:_SCAN_PREFIX] for n in first_names()}
    alternation = "|".join(sorted(map(re.escape, prefixes), key=len, reverse=True))
    return rf"(?:{alternation})[{_LOWER}]*"


# --- confirmation ---------------------------------------------------------------------

#: Capitalised words that end a name run (and cancel it when they come first):
#: addressees that are not people, words of the sentence after the name, and
#: tokens of logs and products.
_NOT_NAME_WORDS = frozenset(
    str.split(
        "Team Teams All Everyone Everybody Folks Guys There Support Sir Madam Sirs Customer "
        "Customers Service Services Admin Admins Administrator Colleagues Colleague Friends "
        "Zusammen Allerseits Kunde Kundin Kunden Damen Herren Kollegen Kolleginnen Team-Mitglieder "
        "Tous Toutes Madame Monsieur Mesdames Messieurs Collègues Client Clients Équipe Equipe "
        "Tutti Signori Colleghi Cliente Clienti Squadra Gentili Spettabile "
        "The A An I I'm We You He She It They This That These Those Our Your My Me Us "
        "Please Thanks Thank Regards Best Kind Hello Hi Dear Bonjour Hallo Ciao Merci Grazie "
        "Danke And Or But Und Oder Et Ou Mais Ed E O Ma Is Was Are Has Had Have Can Could Would "
        "Should Will Shall May Might Must Do Does Did Not No Yes Ok Okay OK Sorry "
        "Monday Tuesday Wednesday Thursday Friday Saturday Sunday Montag Dienstag Mittwoch "
        "Donnerstag Freitag Samstag Sonntag Lundi Mardi Mercredi Jeudi Vendredi Samedi Dimanche "
        "Lunedì Martedì Mercoledì Giovedì Venerdì Sabato Domenica January February March "
        "April June July August September October November December Januar Februar März Juni "
        "Juli Oktober Dezember Janvier Février Mars Avril Mai Juin Juillet Août Septembre "
        "Octobre Novembre Décembre Gennaio Febbraio Marzo Aprile Maggio Giugno Luglio Agosto "
        "Settembre Ottobre Dicembre Today Tomorrow Yesterday Heute Morgen Gestern Aujourd'hui "
        "Demain Hier Oggi Domani Ieri Again Also Just Still Here Now Then Soon Later "
        "Error Exception Warning Info Debug Trace Fatal Critical Server Client Service Worker "
        "Cluster Node Pod Container Database Cache Queue Topic Bucket Instance Region Zone "
        "Account Billing Invoice Order Ticket Case Request Response Update Upgrade Release "
        "Version Build Deploy Deployment Pipeline Job Task Report Dashboard Console Portal "
        "Cloud Storage Compute Network Load Balancer Gateway Proxy Firewall Engine Manager "
        "Null Pointer Timeout Connection Failed Success Status Internal External Public Private "
        "Java Python Node Go Rust Ruby Azure Google Amazon Microsoft Apple Linux Windows Ubuntu "
        "Debian Kubernetes Docker Terraform Ansible Kafka Redis Postgres Postgre Mongo Mysql "
        "Oracle Nginx Apache Jenkins Github Gitlab Slack Jira Zoom Teams Chrome Firefox Safari "
        "Edge Android Iphone Ipad Mac Macbook Pro Max Plus Mini Ultra Premium Enterprise "
        "Standard Basic Free Trial Business Personal Home Family Student Developer Professional "
        "Servinfo Inc Ltd Llc Gmbh Ag Sa Sarl Spa Srl Corp Co Company Group Holding Bank "
        "Street Road Avenue Lane Strasse Straße Rue Via Piazza Platz Weg Gasse Allee "
        "City Town Village Stadt Ville Città North South East West Nord Süd Sud Ost Est Ovest "
        "London Paris Berlin Rome Roma Milan Milano Zurich Zürich Geneva Genève Munich München "
        "Hamburg Frankfurt Vienna Wien Lyon Marseille Turin Torino Naples Napoli Singapore "
        "Dublin Madrid Amsterdam Brussels Bruxelles Basel Bern Lausanne Florence Firenze "
        "Europe America Germany France Italy Switzerland Deutschland Frankreich Italien Schweiz "
        "Italia Svizzera Suisse Allemagne Italie Angleterre England Britain Spain Austria "
        "Dev Ops DevOps Prod Staging Test Testing Beta Alpha Lab Labs Team's World Welt Monde "
        "Mr Mrs Ms Mx Miss Dr Prof Sir Dame Frau Herr Herrn Mme Mlle Mmes Monsieur Madame "
        "Mademoiselle Dott Dottssa Sig Signor Signora Signorina Ing Avv Arch Geom Rag "
        "Valued Hiring Manager Managers Recruiter Recruiting Director Head Lead Officer "
        "Mondo Contact Kontakt Please Bitte Merci Hallo Note Attention Achtung Subject Betreff "
        "Objet Oggetto Re Fwd Aw Wg Tr Agent Agente Operator Operatore Opérateur Operateur "
        "Bot Assistant Assistente System Système Sistema Kundendienst Kundenservice Helpdesk "
        "Gruß Grüße Grüsse Regards Cheers Cordialement Saluti Cordiali Distinti Salutations "
        "Adobe Acrobat Reader Visual Studio Code Mozilla Outlook Word Excel PowerPoint Photoshop "
        "Illustrator Thunderbird Webex Dropbox OneDrive SharePoint Salesforce Figma Notion "
        "Trello Asana Spotify Netflix Steam Discord Telegram Whatsapp WhatsApp Signal Skype "
        "Lightroom Premiere Acrobat Edge Explorer Internet Studio Office Drive Docs Sheets Gmail "
        "Maps Play Store App Apps Cloud Cli Sdk Api Ui Ux "
        # departments and teams ("Assigned to Data Engineering", "Ufficio Acquisti")
        "Engineering Reliability Operations Management Success Development Marketing Sales "
        "Finance Legal Procurement Purchasing Accounting Accounts Payroll Security "
        "Infrastructure Platform Backend Frontend Logistics Compliance Quality Assurance "
        "Helpdesk Desk Department Dept Division Unit Office Backoffice Abteilung Einkauf "
        "Vertrieb Buchhaltung Personalabteilung Kundenservice Kundendienst Direction "
        "Département Comptabilité Achats Ventes Ufficio Reparto Servizio Amministrazione "
        "Acquisti Vendite Contabilità Assistenza Clientela "
        # what an organisation's name ends with
        "Corporation Incorporated Limited Plc Se Kg Ohg Sas Bv Nv Traders Importers "
        "Industries Systems Solutions Technologies Consulting Holdings Partners Enterprises "
        "Banca Banque Versicherung Assicurazioni Insurance Société Compagnie Groupe Gruppo "
        "Caisse Mutuelle Assurance Assurances "
        # what follows "hi", "thanks" or "merci" in lower case and is not a name
        "Much Anyway Beaucoup Mille Schön Sehr Vielmals Nochmal Infiniment Encore Ancora "
        "Tanto Tante Buddy Man Mate Dude Bro Friend Gang Both Boss Chief Lots Loads Heaps "
        "Tons Mucho Bien Tout Toi Vous Voi Ragazzi Leute Everyone's "
        # what a sentence opens with before "here" ("Click here: …")
        "Click Download Read See Look Register Apply Start Details More Sign Log Learn Find "
        # what "(by …)" and "contact …" name that is not a person
        "Default Design Hand Mistake Accident Email E-mail Phone Mail Post Chat Form Us "
        "Written Shown Given Taken Seen Done Kept Built Found Made Said Told Put Set Listed "
        "Repeated Included Described Mentioned Explained Attached Quoted Copied Pasted Noted "
        "Added Fixed Updated Changed Posted Linked Stored Defined Used Tested Checked "
        # possessives and articles that open a team's or a service's name
        "Ihr Ihre Euer Eure Unser Unsere Votre Vos Notre Nos Vostro Vostra Nostro Nostra "
        "Der Die Das Les Gli "
        # speakers of logs and chats that are not people ("[10:02] kernel: …")
        "User Users Guest Visitor Host Root Daemon Kernel Cron Systemd Sshd Main Thread App "
        "Auth Note Warn Err Notice Alert Fail Log Logger Moderator Staff Unknown Anonymous "
        # annotations ("@Override")
        "Override Deprecated Before After BeforeEach AfterEach BeforeAll AfterAll Autowired "
        "Component Entity Bean Inject Nullable NonNull Transactional Value Data Getter Setter "
        "Configuration Controller RestController Repository Singleton Provides Named Param "
        "Path Query Body Header Property Table Column Id Parameterized Mock Spy Rule"
    )
)
# Honorifics that can follow a greeting: the name comes after them ("Dear Mr Smith").
_HONORIFIC = re.compile(rf"^{_TITLES}\.?[ ]+")


def person(value: str, rule: Rule) -> tuple[int, int] | None:
    """The part of the candidate name ``value`` that is a name, or ``None``.

    Drops a leading honorific ("Dear Mr Smith" gives "Smith"), stops at the first
    word that is never part of a name, and refuses a run that starts with one
    (unless the rule skips leading words). A particle or an initial does not end
    a name; a name of one word has three letters or more.
    """
    if rule.query:
        return _query_person(value)
    if rule.email:
        return _person_beside_email(value, rule)
    offset = 0
    honorific = _HONORIFIC.match(value)
    if honorific is not None and honorific.end() < len(value):
        offset = honorific.end()
    words = value[offset:].split(" ")
    if rule.skip_leading:
        while words and _never_name(words[0].title() if rule.case else words[0]):
            offset += len(words.pop(0)) + 1
    kept: list[str] = []
    for word in words:
        if _never_name(word.title() if rule.case else word):
            # "Dear Valued Customer", "Dear Hiring Manager": words before a word
            # that is never a name describe it; where the context is the whole
            # evidence, they are not a name either.
            if not rule.skip_leading:
                return None
            break
        kept.append(word)
    while kept and (kept[-1].lower() in _PARTICLES or (len(kept[-1]) <= 2 and len(kept) > 1)):
        kept.pop()
    if not kept or (len(kept) == 1 and len(kept[0]) <= 2):
        return None
    if rule.two_words and len(kept) < 2:
        return None
    if rule is LISTED and kept[0] not in first_names():
        # The scan knows first names by their first letters: a word that shares
        # them may come before the name ("Corso Vittorio Emanuele").
        offset += len(kept[0]) + 1
        kept = kept[1:]
        if len(kept) < 2 or kept[0] not in first_names():
            return None
    return offset, offset + len(" ".join(kept))


_QUERY_WORD = re.compile(r"(?:(?!%20)[^+])+")


def _query_person(value: str) -> tuple[int, int] | None:
    """:func:`person` for a URL query value, its words joined by "+" or "%20"."""
    words = [(m.start(), m.end()) for m in _QUERY_WORD.finditer(value)]
    kept = []
    for start, end in words:
        if _never_name(value[start:end]):
            break
        kept.append((start, end))
    if not kept or (len(kept) == 1 and kept[0][1] - kept[0][0] <= 2):
        return None
    return kept[0][0], kept[-1][1]


def _person_beside_email(value: str, rule: Rule) -> tuple[int, int] | None:
    """:func:`person` for a name and the e-mail local part after it (holding one of its words)."""
    local = value[max(value.rfind(c) for c in " ,;:\t|/") + 1 :]
    name = re.match(FULL_NAME, value)
    if name is None:
        return None
    # One word will do after words of the sentence ("Hi Anna, mail anna@…"): the
    # candidate starts where the greeting does, and no other rule reads it whole.
    part = person(name.group(), Rule("", skip_leading=rule.skip_leading))
    if part is None or (part[0] == 0 and " " not in name.group()[: part[1]]):
        return None
    folded = _folded(local)
    words = name.group()[part[0] : part[1]].split(" ")
    if any(len(w) >= 3 and _folded(w) in folded for w in words):
        return part
    # Someone else's address: the candidate began with a greeting or a title
    # ("Dear Mr Keller, help@…"), which their own rules would have read.
    for other in CONTEXT_RULES[:2]:
        match = re.match(other.pattern, name.group())
        if match is not None:
            found = person(match.group("v"), other)
            if found is not None:
                return match.start("v") + found[0], match.start("v") + found[1]
    return None


def _folded(text: str) -> str:
    """``text`` as e-mail local parts write it: ASCII letters and digits, lower case."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in ascii_text.lower() if c.isalnum())


def _never_name(word: str) -> bool:
    # An initial ("O.", "E.") is part of a name, though "O" and "E" are words.
    if len(word) == 2 and word[1] == ".":
        return False
    word = word.rstrip(".,")
    if word.endswith(("'s", "’s")):  # "Thursday's release"
        word = word[:-2]
    if word in _NOT_NAME_WORDS:
        return True
    # "Kundenservice-Team", "Support-Mitarbeiter": a compound of a word that is never a name.
    return "-" in word and any(part in _NOT_NAME_WORDS for part in word.split("-"))


_PARTICLES = frozenset(str.split("van der den von de la del della di da du le dos zu ten ter"))
