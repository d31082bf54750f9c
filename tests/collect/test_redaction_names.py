"""The name detector's context rules, one case or more each way (``_names.py``).

The names here are in no labelled split; most first names are not in Faker's
lists either, so each case is found by its context, not by a list. The list
rule's cases (at the end) name people of the locales read beyond the policy's
languages, and words that are first names there but common words here.
"""

from __future__ import annotations

import re

import pytest

from servinfo.collect.redaction import Redactor
from servinfo.collect.redaction._names import CAPITALISED, LISTED, _factored, first_names, person


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(types=("PERSON", "ADDRESS", "EMAIL", "PHONE"))


def names(redactor: Redactor, text: str) -> list[str]:
    return [text[s.start : s.end] for s in redactor.find(text) if s.type == "PERSON"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # letters beyond Latin-1
        ("Viele Grüße\nŁucja Dąbrowska", ["Łucja Dąbrowska"]),
        ("Danke, Herr Kılıçarslan.", ["Kılıçarslan"]),
        # an initial is part of a name, though "E" and "O" are words
        ("Thanks,\nE. Whitcombe", ["E. Whitcombe"]),
        ("Owner: O. Pargeter | Priority: high", ["O. Pargeter"]),
        # a signature after a blank line
        ("Kind regards\n\nGreta Lindholm\nHead of Finance", ["Greta Lindholm"]),
        # greetings without "good"
        ("Morning Ottoline, any news?", ["Ottoline"]),
        # whom one spoke to, handed a case to, copied in
        ("Spoke with Ambrose Kettering on the phone today.", ["Ambrose Kettering"]),
        ("It was handed over to Rosalind Pargeter last year.", ["Rosalind Pargeter"]),
        ("Bitte meinen Kollegen Wendelin Auer in CC nehmen.", ["Wendelin Auer"]),
        ("Je vous mets en copie Aurore Vasquez, qui suivra.", ["Aurore Vasquez"]),
        ("Metto in copia Ludmilla Fabbri, che segue.", ["Ludmilla Fabbri"]),
        ("Assigné à Gaspard Rivière ; reproduit.", ["Gaspard Rivière"]),
        ("Assegnato a Ornella Pace, riprodotto.", ["Ornella Pace"]),
        ("on behalf of my mother, Hortense Quayle, who", ["Hortense Quayle"]),
        ("The parcel was signed for by Barnaby Tuck at reception.", ["Barnaby Tuck"]),
        ("sso: login ok for R. Featherstone (eu-west-1)", ["R. Featherstone"]),
        ("Il cliente Rocco Lisi ha chiamato ieri.", ["Rocco Lisi"]),
        ("Could you ask Isadora Finch from accounting?", ["Isadora Finch"]),
        # a title, then a name that starts with its particle
        ("Frau van der Stegen ist im Urlaub.", ["van der Stegen"]),
        ("M. Aubry et Mme du Châtelet ont signé.", ["Aubry", "du Châtelet"]),
        # capitals in logs, after a key or an audit verb
        ('WARN auftrag=17 kunde="ODA BRANDHORST" status=abgelehnt', ["ODA BRANDHORST"]),
        ("CARDHOLDER: LINDQVIST, ASTRID / AUTH DECLINED", ["LINDQVIST, ASTRID"]),
        ("audit: role granted to ODA BRANDHORST by ADMIN", ["ODA BRANDHORST"]),
        # keys of logs and JSON
        ('audit display_name="Ottoline Vance" result=ok', ["Ottoline Vance"]),
        ('{"assignee": {"displayName": "Ottoline Vance"}}', ["Ottoline Vance"]),
        ("user.name=Ottoline Vance user.id=7", ["Ottoline Vance"]),
        # lower case in chats
        ("[2026-03-01 10:02] ottoline: hi, still broken", ["ottoline"]),
        ("[1741679054041] jean-rémi : salut", ["jean-rémi"]),
        ("hi ottoline, thanks for the update", ["ottoline"]),
        # a mention, a speaker with a role
        ("@Ottoline can you check the export?", ["Ottoline"]),
        ("[10:02] Agent Wendelin: Hello, how can I help?", ["Wendelin"]),
        # beside an e-mail address that holds one of its words
        ("17,Ottoline Vance,ottoline.vance@example.com,Premium", ["Ottoline Vance"]),
        ("name;email\nBarnaby O'Tuck;b.o'tuck@example.org", ["Barnaby O'Tuck"]),
        ("4711\tWendelin Auer\tw.auer@example.de", ["Wendelin Auer"]),
        ("Hi Anna, mail anna@example.com please", ["Anna"]),
        # ... and someone else's address does not hide a greeting's or a title's name
        ("Hi Ottoline, please write to support@example.com", ["Ottoline"]),
        ("Dear Mr Pargeter, help@example.com", ["Pargeter"]),
        ("write to ottoline.vance@example.com (Ottoline Vance)", ["Ottoline Vance"]),
        # the writer introducing themselves
        ("Ottoline here again: the VPN drops every hour.", ["Ottoline"]),
        # after a weak word: a possessive, a phone number in parentheses
        ("As per Ottoline Vance's request, please close it.", ["Ottoline Vance"]),
        ("Rückfragen bitte an Wendelin Auer (+49 30 1234567).", ["Wendelin Auer"]),
        # labels of reviews and lists (the first name of a list)
        ("Reviewer: Ottoline Vance\nStatus: approved", ["Ottoline Vance"]),
        ("QA sign-off: Ottoline Vance (2026-03-01)", ["Ottoline Vance"]),
        # signing for someone else
        ("Im Auftrag\nW. Auer", ["W. Auer"]),
        # whom to contact, who placed or sent something, whose greetings
        ("Please contact Ambrose Kettering directly.", ["Ambrose Kettering"]),
        ("Per informazioni rivolgersi a Ludmilla Fabbri.", ["Ludmilla Fabbri"]),
        ("The order was placed by Barnaby Tuck on 2026-03-05.", ["Barnaby Tuck"]),
        ("Saluti da Ornella Pace e da tutto il team.", ["Ornella Pace"]),
        ("charge failed for customer 'Rosalind Pargeter' (id 7)", ["Rosalind Pargeter"]),
        # a dash, a vocative, "(by …)", a speaker's note in parentheses
        ("Thanks for the help! - Ottoline", ["Ottoline"]),
        ("Happy to help, Ottoline!", ["Ottoline"]),
        ("Steps to reproduce (by Ottoline): open the app.", ["Ottoline"]),
        ("[2026-04-03 13:12] Ottoline (eu-west-1): the dashboard is blank", ["Ottoline"]),
    ],
)
def test_names_in_context(redactor: Redactor, text: str, expected: list[str]) -> None:
    assert names(redactor, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # an organisation's name on the last line of a block, a team after a sign-off
        "Regards,\nCustomer Success Team\nWide World Importers",
        "Viele Grüße\nIhr Kundenservice-Team\nMusterfirma AG",
        "Cordialement,\nLe service client\nGlobex Corporation",
        "Cordiali saluti\nUfficio Acquisti\nBanca Sella",
        # teams after an introducer; weekdays with a possessive
        "Assigned to Data Engineering. Affects Power BI.",
        "Good morning, Thursday's release went fine. Best, Release Management",
        # code: an annotation, a dotted name at the end, a parameter and a constant
        "@Override\npublic void run() throws java.util.concurrent.TimeoutException",
        "    username: Annotated[str | None, typer.Option()] = None,",
        "FULL_NAME: Final = 'x'",
        "Repeated here, not imported.",
        "Click here: https://example.com/help",
        # lower-case speakers and replies that are not people
        "[2026-03-01 10:02:11] kernel: eth0 link down",
        "[2026-03-01 10:02] agent: thanks, retrying",
        "[2026-03-01 10:02] user: hello?",
        "hi all, thanks much!",
        "merci beaucoup, à demain",
        # capitals that are not names
        'status="FAILED TIMEOUT" kunde="UNKNOWN USER"',
        "I AM VERY ANGRY ABOUT THIS",
        "user.role=ADMIN user.id=7 action=DELETE ACCOUNT",
        # e-mail addresses of roles
        "support@example.com (Support)",
        "Contact Sales, sales@example.com",
        "17,Northwind Traders,orders@example.com",
        "Hey Support! Quick one",
        "Please contact Customer Service directly.",
        "The order was placed by Purchasing on 2026-03-05.",
        "Happy to help, Release Management!",
        "Status: open - Review\nThanks for the report! - Support Team",
        "enabled (by Default): yes",
        "[2026-04-03 13:12] Worker (eu-west-1): started",
        "settings for Visual Studio Code's extensions, please",
    ],
)
def test_look_alikes_are_not_names(redactor: Redactor, text: str) -> None:
    assert names(redactor, text) == []


def test_a_street_alone_is_not_an_address(redactor: Redactor) -> None:
    text = 'store lookup city=Bologna street="Königsallee" status=200 took=12ms'
    assert redactor.find(text) == ()


@pytest.mark.parametrize(
    "name",
    [
        # first names of Faker's other Latin-script locales, no context at all
        "Jiří Dvořák",  # cs_CZ
        "Cauã Oliveira",  # pt_BR
        "Uğur Demir",  # tr_TR
        "Aarav Sharma",  # en_IN
        "Chiamaka Okafor",  # ig_NG
        "Ngozi Eze",  # ha_NG, ig_NG
        "Wanjiru Kamau",  # en_KE
        "Kwabena Asante",  # tw_GH
        "Bjørn Haugen",  # da_DK, no_NO
        "Eero Virtanen",  # fi_FI
        "Halldóra Sigurðardóttir",  # is_IS
        "Tõnu Tamm",  # et_EE
        "Ilze Bērziņa",  # lv_LV
        "Ioana Popescu",  # ro_RO
    ],
)
def test_listed_first_names_of_more_locales(redactor: Redactor, name: str) -> None:
    assert names(redactor, f"{name} reported the outage twice.") == [name]


@pytest.mark.parametrize(
    "text",
    [
        # first names in some locale, common words, products or places here
        "Okta Verify keeps asking for a code.",
        "Valid Until 2026-03-01 only.",
        "Tor Browser blocks the login page.",
        "Raid Array degraded on node 3.",
        "Edit Profile does not save.",
        "Mercy Hospital called about the invoice.",
        "Santa Claus theme is broken.",
        "Yoga Class booking fails.",
        "Lucky Draw page is blank.",
        "Kali Tools broke the build.",
        "Queen Anne furniture order",
        "Lies Kapitel 3 der Anleitung.",
        "Beste Grüße aus Bern",
        "Dalla Pagina iniziale non si apre",
    ],
)
def test_first_names_that_are_common_words_need_context(redactor: Redactor, text: str) -> None:
    assert names(redactor, text) == []


def test_the_list_holds_latin_script_names_the_shape_reads() -> None:
    listed = first_names()
    assert {"Kwabena", "Uğur", "Halldóra"} <= listed
    assert all(re.fullmatch(CAPITALISED, n) for n in listed)
    assert not listed & {"Okta", "Valid", "Edit", "Lies", "Dalla"}


def test_a_word_sharing_a_listed_prefix_before_the_name() -> None:
    # The scan finds first names by their first letters: "Welc…" may open a candidate.
    assert person("Welcome Anna Keller", LISTED) == (8, 19)
    assert person("Welcome Keller Anna", LISTED) is None


@pytest.mark.parametrize(
    "alternation",
    [
        r"(?i:my colleague|my coworker|my|colleague|i am|i'm)",
        r"(?i:best regards|best|best wishes|regards|i\. ?a\.)",
        r"(?:Mr|Mrs|Dott|Dott\.ssa|Dottssa|M|Me|Mme)",
        r"(?i:ab|a|abc|b)",
    ],
)
def test_word_lists_as_prefix_trees_match_the_same_in_the_same_order(alternation: str) -> None:
    # The tree reads the same strings, and where several words match at one place
    # the same one first: what a longer pattern built on it captures is unchanged.
    factored = _factored(alternation)
    assert factored != alternation
    words = {"", "my", "my colleague", "best", "best wishes", "i.a.", "i. a.", "Dott.ssa", "M"}
    words |= {"Mme", "ab", "abc", "a", "b", "regards", "i'm", "xyz", "Best Regards"}
    for word in words:
        assert (re.fullmatch(alternation, word) is None) == (re.fullmatch(factored, word) is None)
    for text in ("best wishes, Anna", "best regards Anna", "Dott.ssa Rossi", "abc d", "Mme X"):
        written = re.fullmatch(rf"({alternation})[ ,]*(.*)", text)
        tree = re.fullmatch(rf"({factored})[ ,]*(.*)", text)
        assert (None if written is None else written.groups()) == (
            None if tree is None else tree.groups()
        )


def test_a_word_list_with_other_syntax_is_kept_as_written() -> None:
    assert _factored(r"(?i:a+|b)") == r"(?i:a+|b)"
    assert _factored(r"(?i:Ab|b)") == r"(?i:Ab|b)"
