"""People's names in free text: context rules, helped by lists of first names.

A name is a run of one to four capitalised words (``Anne-Marie``, ``O'Brien``,
``Müller``, ``van der Berg`` with its particles, an initial ``J.``). Such runs
are everywhere in tickets (``Null Pointer``, ``Load Balancer``), so a run is a
name only where the text says so (each rule in English, German, French and
Italian):

(1) after a title: Mr, Mrs, Ms, Dr, Prof, Frau, Herr, Mme, M., Dott., Sig.ra …;
(2) after a greeting: Hi, Dear, Hallo, Liebe, Bonjour, Cher, Ciao, Gentile …;
(3) after a sign-off, on the same or the next line (the signature): Regards,
    Thanks, Viele Grüße, Cordialement, Cordiali saluti …;
(4) after words that introduce a person: "my colleague", "meine Kollegin",
    "ma collègue", "il mio collega", "my name is", "ich heiße", "je m'appelle",
    "mi chiamo", and field labels (``Name:``, ``Kunde:``, ``Nom :``, ``From:``);
(5) before an e-mail address in angle brackets or parentheses
    (``Jane Doe <jane@…>``);
(6) anywhere, when the first word is a first name of the lists in Faker's
    person providers for the policy's languages (``faker``, MIT, read at start,
    nothing downloaded) and a capitalised surname follows.

The span is the name alone, without title or greeting. Words that are never a
name, though capitalised after a greeting ("Hi Team", "Dear Customer", "Hallo
zusammen", "Bonjour Madame"), and names of products and places common in logs,
end or cancel a candidate.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

__all__ = ["CONTEXT_RULES", "LISTED", "Rule", "first_names", "listed_pattern", "person"]

# --- the shape of a name --------------------------------------------------------------

_UPPER = "A-ZÀ-ÖØ-Þ"
_LOWER = "a-zß-öø-ÿ"
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

# (1) titles
_TITLES = (
    r"(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Sir|Dame|Frau|Herr|Herrn|Mme|Mlle|Mmes|M|Me|Monsieur|Madame|"
    r"Mademoiselle|Dott|Dott\.ssa|Dottssa|Dr\.ssa|Sig|Sig\.ra|Sig\.na|Signor|Signora|Signorina|"
    r"Ing|Avv|Arch|Geom|Rag)"
)
# (2) greetings (case-insensitive)
_GREETINGS = (
    r"(?i:hi|hello|hey|dear|good morning|good afternoon|good evening|greetings|thanks|thank you|"
    r"thx|many thanks|danke|danke schön|vielen dank|merci|merci beaucoup|grazie|grazie mille|"
    r"hallo|hi there|liebe|lieber|sehr geehrte|sehr geehrter|guten tag|guten morgen|moin|servus|"
    r"grüezi|grüß gott|bonjour|bonsoir|salut|cher|chère|chers|coucou|ciao|salve|buongiorno|"
    r"buonasera|gentile|gentilissima|gentilissimo|caro|cara|egregio|egregia)"
)
# (3) sign-offs (case-insensitive), then a comma or a line break
_SIGN_OFFS = (
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
    r"un caro saluto|grazie|grazie mille|grazie in anticipo|a presto|un saluto|buona giornata)"
)
# (4) words that introduce a person (case-insensitive), and field labels
_INTRODUCERS = (
    r"(?i:my colleague|my coworker|my co-worker|my manager|my boss|my wife|my husband|"
    r"my name is|i am|i'm|this is|colleague|"
    r"mein kollege|meine kollegin|mein chef|meine chefin|kollege|kollegin|ich heiße|ich bin|"
    r"mein name ist|ma collègue|mon collègue|ma collegue|mon collegue|je m'appelle|je suis|"
    r"mon nom est|il mio collega|la mia collega|mio collega|mia collega|mi chiamo|sono|"
    r"il mio nome è|assigned to|forwarded to|escalated to|cc|signed|signed by|"
    r"contact person|ansprechpartner|ansprechpartnerin|interlocuteur|referente|"
    r"customer|kunde|kundin|"
    r"requester|reporter|assignee|de la part de|da parte di|reported by|submitted by|created by|"
    r"opened by|posted by|raised by|signalé par|signalée par|créé par|segnalato da|segnalata da|"
    r"on behalf of|im auftrag von|au nom de|per conto di|hier ist|hier spricht|c'est|ici|"
    r"aperto da|gemeldet von|erstellt von|account holder|card holder|cardholder|holder|"
    r"titulaire|intestatario|intestataria|intestato a|intestata a|intestato al|intestato alla|"
    r"intestata alla|inhaber|inhaberin|karteninhaber|karteninhaberin|kontoinhaber|kontoinhaberin)"
)
_LABELS = (
    r"(?i:name|full name|customer name|nom|nom complet|nome|nome completo|cognome|vorname|"
    r"nachname|prénom|from|von|de|da|to|an|cc|contact|kontakt|requester|reporter|assignee|"
    r"signed|signature|unterschrift|author|autor|auteur|autore|owner|user|customer|client|"
    r"cliente|kunde|kundin|benutzer|utilisateur|utente|employee|mitarbeiter|mitarbeiterin|"
    r"recipient|empfänger|destinataire|destinatario|sender|absender|expéditeur|mittente|"
    r"account holder|titulaire|intestatario|inhaber)"
)

# Sign-offs that a name may follow after a space alone ("Gruß Matthias").
_CLOSINGS = (
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
# Weak contexts: a person often follows, but so do products and places.
_WEAK = r"by|for|par|pour|per|von|für|di|from|de|da|dal|dalla|with|mit|avec|con"

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


#: (1)-(5), in order.
CONTEXT_RULES: Final = (
    Rule(rf"\b{_TITLES}\.?[ ]{{1,2}}{_TITLED}(?P<v>{FULL_NAME})"),
    Rule(rf"\b{_GREETINGS}[ ,]{{1,3}}{_TITLED}(?P<v>{FULL_NAME})"),
    Rule(rf"\b{_SIGN_OFFS}[ ]?[,.!]?[ ]?\r?\n[ \t]*(?:--[ ]?\r?\n)?(?P<v>{FULL_NAME})"),
    Rule(rf"\b{_SIGN_OFFS},[ ](?P<v>{FULL_NAME})"),
    Rule(rf"\b{_CLOSINGS}[ ](?P<v>{FULL_NAME})"),
    Rule(rf"\b{_INTRODUCERS}[:,]?[ ]{{1,2}}{_TITLED}(?P<v>{FULL_NAME})"),
    # "Name: …", and as logs and JSON write it: name="…", "customer": "…".
    Rule(rf"\b{_LABELS}[\"']?[ ]?[:=][ ]{{0,2}}[\"']?{_TITLED}(?P<v>{FULL_NAME})"),
    # A chat's or a log's speaker: "[12:01] Anna: …", "… joined. Anna: …",
    # "12:01 Anna: …", "Anna (12:01): …", "<Anna> …".
    Rule(rf"(?:\][ ]{{1,2}}|[.!?][ ]{{1,2}})(?P<v>{FULL_NAME})[ ]?:[ ]"),
    Rule(rf"\b\d{{1,2}}:\d{{2}}(?::\d{{2}})?[ ]{{1,2}}(?:-[ ])?(?P<v>{FULL_NAME})[ ]?:[ ]"),
    Rule(rf"(?P<v>{FULL_NAME})[ ][(\[]\d{{1,2}}:\d{{2}}(?::\d{{2}})?[)\]][ ]?:"),
    Rule(rf"(?:^|\n)<(?P<v>{FULL_NAME})>[ ]"),
    Rule(rf"(?P<v>{FULL_NAME})[ ](?:{_EVENTS})"),
    # A signature: the name alone at the end of the text, or after "--".
    Rule(rf"(?:[.!?]|\n)[ ]{{0,2}}(?P<v>{FULL_NAME})[.!]?[ ]*$", skip_leading=True),
    Rule(rf"(?:^|\s)--[ ]?(?P<v>{FULL_NAME})[ ]*(?:\n|$)"),
    Rule(rf"[?&](?i:{_QUERY_KEYS})=(?P<v>{_WORD}(?:(?:\+|%20){_WORD}){{0,3}})", query=True),
    # After a weak word, two words or more that end the sentence ("declined for
    # Wei Ling Walker."): a product goes on ("for Visual Studio Code 1.8").
    Rule(rf"\b(?i:{_WEAK})[ ]{_TITLED}(?P<v>{FULL_NAME})(?:[.;!?)]|$)", two_words=True),
    # ... or that a clause follows ("for Wei Ling Clarke although it is correct",
    # "für Anna Keller, weil …"): a product's name goes on with its version or noun.
    Rule(
        rf"\b(?i:{_WEAK})[ ]{_TITLED}(?P<v>{FULL_NAME})(?:,[ ]|[ ](?:{_CLAUSES})[ ,])",
        two_words=True,
    ),
    Rule(
        rf"(?:^|\n|[ \"'(])(?P<v>{FULL_NAME}),?[ ]{{0,2}}(?:<|\(|\[)[^ @<>()]{{1,64}}@",
        skip_leading=True,
    ),
)
_PLAIN = Rule("")
#: (6): a listed first name and a surname, anywhere.
LISTED: Final = Rule("", skip_leading=True, two_words=True)


# --- the lists ------------------------------------------------------------------------

#: Faker person providers read for first names: the policy's languages and their
#: neighbours (Swiss, Austrian, Irish, Belgian, Canadian variants).
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
        "Herr Frau Madame Monsieur"
    )
)


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """First names of Faker's person providers for :data:`_LOCALES`, less the stop list."""
    names: set[str] = set()
    for locale in _LOCALES:
        try:
            module = importlib.import_module(f"faker.providers.person.{locale}")
        except ImportError:
            continue
        provider = module.Provider
        for attribute in ("first_names", "first_names_male", "first_names_female"):
            values: Iterable[object] = getattr(provider, attribute, ())
            names.update(v for v in values if isinstance(v, str))
    return frozenset(n for n in names if len(n) > 2 and n.isalpha() and n not in _NOT_FIRST_NAMES)


def listed_pattern(first: str | None = None) -> str:
    """(6): a listed first name, then a capitalised surname (RE2 and ``re`` syntax).

    The scan's automaton holds the list; the classifier that reads the few
    candidates found takes any capitalised ``first`` word, and :func:`person`
    looks it up in :func:`first_names` (``re`` would try the names one by one).
    """
    alternation = first or "|".join(sorted(map(re.escape, first_names()), key=len, reverse=True))
    surname = rf"[{_UPPER}][{_LOWER}]+(?:[-'’][{_UPPER}]?[{_LOWER}]+)?(?:[{_UPPER}][{_LOWER}]+)?"
    return (
        rf"\b(?P<v>(?:{alternation})(?:[ ][{_UPPER}]\.)?[ ](?:{_PARTICLE}[ ])?{surname}"
        rf"(?:[ ]{surname})?)\b"
    )


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
        "Maps Play Store App Apps Cloud Cli Sdk Api Ui Ux"
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
    offset = 0
    honorific = _HONORIFIC.match(value)
    if honorific is not None and honorific.end() < len(value):
        offset = honorific.end()
    words = value[offset:].split(" ")
    if rule.skip_leading:
        while words and _never_name(words[0]):
            offset += len(words.pop(0)) + 1
    kept: list[str] = []
    for word in words:
        if _never_name(word):
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


def _never_name(word: str) -> bool:
    return word in _NOT_NAME_WORDS or word.rstrip(".") in _NOT_NAME_WORDS


_PARTICLES = frozenset(str.split("van der den von de la del della di da du le dos zu ten ter"))
