# ruff: noqa: E501, RUF005 -- data: a template is one line of text, as long as the line it renders
"""The held-out split's templates, names and addresses (rendered by ``make_dataset.py``).

Held out: detectors must never read this file or ``heldout.jsonl``, nor take
anything from them (README.md). No template, name, street or place here is in
``tuning_source.py`` (``tests/collect/test_redaction_dataset.py`` checks it).
"""

# fmt: off
PREFIX = "h"
RENDERS = 8

NAMES = {
    "en": (
        ["Aidan", "Harriet", "Connor", "Imogen", "Declan", "Rosalind", "Nathaniel", "Priyanka"]
        + ["Siew Mei", "Gareth"],
        ["O'Donnell", "Ashworth", "Pemberton", "Kavanagh", "Whitfield", "Ng", "Radcliffe"]
        + ["Sutherland", "Okafor", "Blackwood"],
    ),
    "de": (
        ["Wolfgang", "Dörte", "Henrik", "Annegret", "Maximilian", "Gudrun", "Till"]
        + ["Friederike", "Rüdiger", "Svenja"],
        ["Großmann", "Pfeiffer", "Kästner", "Oberholzer", "Lüthi", "Brüggemann", "Hauser"]
        + ["Reinhardt", "Schwarzenbach", "Eichhorn"],
    ),
    "fr": (
        ["Gaëlle", "Benoît", "Solène", "Thibault", "Maëlle", "Grégoire", "Clémence"]
        + ["Aurélien", "Ségolène", "Loïc"],
        ["Delacroix", "Beaumont", "Marchand", "Lemaître", "Vasseur", "Tessier", "Rivière"]
        + ["D'Aubigné", "Boucher", "Leclerc"],
    ),
    "it": (
        ["Beatrice", "Gianluca", "Ilaria", "Raffaele", "Ludovica", "Tommaso", "Serena"]
        + ["Edoardo", "Arianna", "Pierpaolo"],
        ["D'Angelo", "Barbieri", "Santoro", "Lombardi", "Ferrara", "Caruso", "Mancini"]
        + ["Pellegrini", "Vitale", "Testa"],
    ),
}

STREETS = {
    "GB": ["Hawthorn Close", "Fenwick Gardens", "Beechwood Drive", "Cranbrook Road", "Alder Mews"],
    "US": ["Willow Bend Lane", "Cedar Hollow Rd", "Magnolia Street", "Harbor View Terrace"],
    "SG": ["Toa Payoh Lorong 1", "Yishun Ring Road", "Clementi Avenue 2", "Serangoon North Avenue 1"],
    "DE": ["Kastanienallee", "Rosenweg", "Am Stadtpark", "Friedrich-Ebert-Straße", "Birkenhof"],
    "CH": ["Rämistrasse", "Avenue de la Gare", "Via Cantonale", "Spalenberg"],
    "FR": ["rue Mouffetard", "allée des Cerisiers", "quai des Chartrons", "chemin du Moulin"],
    "IT": ["Via Toledo", "Borgo Pinti", "Via Sacchi", "Lungarno Corsini"],
}
PLACES = {
    "GB": [("Sheffield", "S10 2TN"), ("Norwich", "NR2 4PD"), ("Exeter", "EX4 4QJ")]
    + [("York", "YO31 7EP")],
    "US": [("Savannah", "GA", "31401"), ("Tacoma", "WA", "98402"), ("Ann Arbor", "MI", "48104")]
    + [("Burlington", "VT", "05401")],
    "DE": [("04109", "Leipzig"), ("01067", "Dresden"), ("28195", "Bremen"), ("90402", "Nürnberg")],
    "CH": [("8400", "Winterthur"), ("1003", "Lausanne"), ("6500", "Bellinzona")]
    + [("9000", "St. Gallen")],
    "FR": [("13001", "Marseille"), ("59000", "Lille"), ("67000", "Strasbourg"), ("35000", "Rennes")],
    "IT": [("80134", "Napoli NA"), ("16123", "Genova GE"), ("37121", "Verona VR")]
    + [("90133", "Palermo PA")],
}

# (source, language, template): fields in braces, see make_dataset.field_value.
TEMPLATES = [
    # -- support tickets ---------------------------------------------------------
    ("ticket", "en", "Hello team, {NAME} here. Since yesterday's rollout of {~version} the app logs me out. Best number: {PHONE}. Email: {EMAIL}"),
    ("ticket", "en", "We relocated. New shipping address: {ADDR}. Please charge {CARD} from now on. Cheers, {FIRST}"),
    ("ticket", "en", "On behalf of {NAME2}: her DOB is {DOB} and her passport is {PASSPORT}; she cannot upload them herself."),
    ("ticket", "en", "Payroll correction for {NAME}, NI number {NINO}, please pay the difference into {IBAN}."),
    ("ticket", "en", "Ms {LAST} says the courier left parcel {~track} at {ADDR} without a signature. Ring her at {PHONE}."),
    ("ticket", "en", "Escalated: {NAME} ({EMAIL_OBF}) disputes charge {~order} on card {CARD}."),
    ("ticket", "de", "Hallo zusammen, hier schreibt {NAME}. Nach dem Rollout von {~version} werde ich ständig abgemeldet. Erreichbar unter {PHONE}."),
    ("ticket", "de", "Neue Lieferadresse ab Montag: {ADDR}. Bitte künftig {IBAN} belasten. Viele Grüße {FIRST}"),
    ("ticket", "de", "Im Auftrag von Frau {LAST2}: geboren {DOB}, Reisepass {PASSPORT}, Identifikationsnummer {IDNR}."),
    ("ticket", "de", "Dr. {LAST} ({EMAIL}) bittet um Löschung seiner AHV-Nummer {AHV} aus dem Kundenkonto."),
    ("ticket", "fr", "Bonsoir, ici {NAME}. Depuis le déploiement de {~version}, l'application me déconnecte. Joignable au {PHONE}."),
    ("ticket", "fr", "Nouvelle adresse de livraison : {ADDR}. Merci de prélever {IBAN} désormais. Bien à vous, {FIRST}"),
    ("ticket", "fr", "De la part de Mme {LAST2} : date de naissance {DOB}, passeport {PASSPORT}, NIR {NIR}."),
    ("ticket", "it", "Salve, sono {NAME}. Dal rilascio di {~version} l'app mi disconnette. Reperibile al {PHONE}, mail {EMAIL}."),
    ("ticket", "it", "Nuovo indirizzo di consegna: {ADDR}. Addebitate d'ora in poi {CARD}. Un saluto, {FIRST}"),
    ("ticket", "it", "Per conto del Dott. {LAST2}: nato il {DOB}, passaporto {PASSPORT}, codice fiscale {CF}."),
    # -- chats ----------------------------------------------------------------
    ("chat", "en", "<{FIRST}> reach me on {PHONE_INTL} or {EMAIL}, whichever is easier"),
    ("chat", "en", "<support> {FIRST}, the refund goes to {IBAN}, right? <{FIRST}> yes, and my NRIC is {NRIC}"),
    ("chat", "de", "<{FIRST}> schreib mir an {EMAIL_OBF} oder ruf an: {PHONE}"),
    ("chat", "fr", "<{FIRST}> écris-moi à {EMAIL} ou appelle le {PHONE}"),
    ("chat", "it", "<{FIRST}> scrivimi a {EMAIL_OBF} oppure chiamami al {PHONE}"),
    ("chat", "en", "<{FIRST}> box {IP4} can't reach https://[{IP6}]:{~port}/ — my colleague {NAME2} set it up"),
    # -- crash reports --------------------------------------------------------------
    ("crash", "en", "FATAL {~jvm} while mailing {EMAIL}\n    at org.example.notify.Sender.dispatch(Sender.kt:{~ms})\n    host {IP4} zone {~region}"),
    ("crash", "en", "core dumped; environment contained STRIPE_KEY={TOKEN} and secret={SECRETV}"),
    ("crash", "en", "{~jvm}: session for {NAME} <{EMAIL}> expired; cookie jwt={JWT}"),
    ("crash", "en", "deploy key found in crash bundle {~uuid}:\n{PEM}\nuploaded from {IP6}"),
    ("crash", "de", "Absturz {~jvm}: Rechnung an {EMAIL} konnte nicht erzeugt werden (Kundin {NAME}, {PHONE})"),
    ("crash", "it", "Arresto anomalo {~jvm}: fattura per {NAME} ({EMAIL}) non generata, IBAN {IBAN}"),
    # -- bug reports -------------------------------------------------------------
    ("bug", "en", "Repro: sign in as {EMAIL}, open Settings > Phone, value {PHONE} is duplicated. Found by {NAME}."),
    ("bug", "en", "PDF export shows the full SSN {SSN} and card {CARD} of {NAME}; both should be masked."),
    ("bug", "en", "GitLab runner prints its token {TOKEN} in job logs (runner {~uuid}, {~version})."),
    ("bug", "de", "Der Export zeigt Geburtsdatum {DOB} und Passnummer {PASSPORT} von {NAME} ungeschwärzt."),
    ("bug", "fr", "L'export affiche la carte {CARD} et l'adresse {ADDR} de {NAME} en clair."),
    ("bug", "en", "NL/ES onboarding: BSN {BSN} rejected, NIE {NIE} accepted, DNI {DNI} rejected. Reporter {NAME}."),
    # -- access logs ------------------------------------------------------------
    ("access_log", "en", "{IP4} - {EMAIL} [{~ts}] \"GET /profile HTTP/1.1\" 200 {~ms} \"-\" \"{~product}/{~version}\""),
    ("access_log", "en", "{IP6} - - [{~ts}] \"GET /invite?to={EMAIL_ENC}&auth_token={SECRETV} HTTP/1.1\" 302 {~ms}"),
    ("access_log", "de", "{IP4} - - [{~ts}] \"GET /newsletter/abmelden?adresse={EMAIL_ENC} HTTP/1.1\" 200 {~ms}"),
    ("access_log", "fr", "lb: client=[{IP6}]:{~port} backend={IP4}:{~port} user={EMAIL} status=200"),
    # -- no personal data: look-alikes only --------------------------------------------
    ("ticket", "en", "Shipment {~track} for order {~order} ({~amount}) is held at customs; catalogue ref ISBN {~isbn}."),
    ("ticket", "de", "Rechnung {~order} über {~amount}, fällig am {~date}; Vorgang {~uuid}, {~issn}."),
    ("ticket", "fr", "Facture {~order} de {~amount}, échéance le {~date} ; dossier {~uuid}."),
    ("ticket", "it", "Fattura {~order} di {~amount} in scadenza il {~date}; pratica {~uuid}, {~issn}."),
    ("crash", "en", "{~jvm} thrown at {~hex}, thread pool {~uuid}, heap {~ms} MB, {~region}, commit {~sha}"),
    ("bug", "en", "{~product} {~version}: rounding turns {~amount} into {~amount} (ticket {~order}, build {~gitsha})"),
    ("access_log", "en", "[{~ts}] {~region} GET /v1/catalog/{~isbn}/{~uuid} 304 {~ms}ms ua={~product}/{~version}"),
    ("chat", "de", "<support> Ihr Paket {~track} ist unterwegs, Bestellung {~order}, Betrag {~amount}"),
    ("bug", "it", "Con {~product} {~version} il totale {~amount} diventa {~amount} (ordine {~order})"),
]
# fmt: on
