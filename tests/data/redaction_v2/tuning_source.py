# ruff: noqa: E501, RUF005 -- data: a template is one line of text, as long as the line it renders
"""The tuning split's templates, names and addresses (rendered by ``make_dataset.py``).

Detectors may be tuned on what this file makes. Nothing here may appear in
``heldout_source.py`` (``tests/collect/test_redaction_dataset.py`` checks it).
"""

# fmt: off
PREFIX = "t"
RENDERS = 8

NAMES = {
    "en": (
        ["Sean", "Emily", "James", "Olivia", "Michael", "Sophie", "Daniel", "Grace", "Liam"]
        + ["Hannah", "Oliver", "Chloe", "Ethan", "Megan", "Wei Ling", "Rajesh"],
        ["O'Brien", "Thompson", "Walker", "Harris", "Clarke", "Robinson", "Wright", "Hughes"]
        + ["Patel", "Tan", "Lim", "Fitzgerald", "Morgan", "Bennett", "Gallagher"],
    ),
    "de": (
        ["Jürgen", "Anna", "Lukas", "Sabine", "Matthias", "Katrin", "Felix", "Ute", "Tobias"]
        + ["Birgit", "Jonas", "Heike", "Stefan", "Lea"],
        ["Müller", "Schneider", "Becker", "Hoffmann", "Schäfer", "Koch", "Bauer", "Wagner"]
        + ["Zimmermann", "Krüger", "Lehmann", "Weiß", "Brandt", "Vogel"],
    ),
    "fr": (
        ["François", "Camille", "Julien", "Amélie", "Nicolas", "Céline", "Mathieu", "Élodie"]
        + ["Sébastien", "Manon", "Jean-Luc", "Anne-Sophie", "Théo", "Inès"],
        ["Dubois", "Lefèvre", "Moreau", "Girard", "Lambert", "Fontaine", "Rousseau"]
        + ["Chevalier", "Faure", "Mercier", "Blanc", "Garnier", "Roux", "Perrin"],
    ),
    "it": (
        ["Giulia", "Marco", "Francesca", "Alessandro", "Chiara", "Lorenzo", "Valentina"]
        + ["Matteo", "Elena", "Davide", "Federica", "Simone", "Martina", "Niccolò"],
        ["Rossi", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno", "Gallo"]
        + ["Conti", "De Luca", "Esposito", "Fontana", "Moretti"],
    ),
}

STREETS = {
    "GB": ["Abbotsford Road", "Kingsley Avenue", "Mill Lane", "Station Road", "Church Street"],
    "US": ["Maple Grove Ave", "Oak Street", "Sunset Blvd", "Lakeview Drive", "Pine Ridge Road"],
    "SG": ["Ang Mo Kio Avenue 3", "Tampines Street 21", "Bedok North Road", "Jurong West Street 42"],
    "DE": ["Lindenstraße", "Goethestraße", "Am Mühlbach", "Bahnhofstraße", "Schillerweg"],
    "CH": ["Seestrasse", "Rue du Marché", "Via Nassa", "Dorfstrasse", "Chemin des Vignes"],
    "FR": ["rue des Lilas", "avenue Jean Jaurès", "boulevard Voltaire", "impasse des Tilleuls"],
    "IT": ["Via Garibaldi", "Corso Vittorio Emanuele II", "Via Roma", "Viale dei Mille"],
}
PLACES = {
    "GB": [("Leeds", "LS6 2QE"), ("Manchester", "M14 5RB"), ("Bristol", "BS8 1TH")]
    + [("London", "NW1 6XE"), ("Cardiff", "CF10 3AT")],
    "US": [("Springfield", "IL", "62704"), ("Portland", "OR", "97205"), ("Austin", "TX", "78701")]
    + [("Madison", "WI", "53703"), ("Boulder", "CO", "80302")],
    "DE": [("10969", "Berlin"), ("80331", "München"), ("50667", "Köln"), ("20095", "Hamburg")],
    "CH": [("8002", "Zürich"), ("1204", "Genève"), ("6900", "Lugano"), ("3011", "Bern")],
    "FR": [("69003", "Lyon"), ("75011", "Paris"), ("31000", "Toulouse"), ("33000", "Bordeaux")],
    "IT": [("20121", "Milano MI"), ("00186", "Roma RM"), ("10121", "Torino TO")]
    + [("50122", "Firenze FI")],
}

# (source, language, template): fields in braces, see make_dataset.field_value.
TEMPLATES = [
    # -- support tickets ---------------------------------------------------------
    ("ticket", "en", "Hi, this is {NAME}. I can't log in since the {~version} update. Please call me on {PHONE} or write to {EMAIL}."),
    ("ticket", "en", "Please update my billing address to {ADDR}. Card on file ends with the old one, new card is {CARD}."),
    ("ticket", "en", "Refund for order {~order} ({~amount}) should go to {IBAN}, account holder {NAME}."),
    ("ticket", "en", "My colleague {NAME2} ({EMAIL2}) no longer works here, please remove her access. Thanks, {FIRST}"),
    ("ticket", "en", "Mr {LAST} called from {PHONE} about invoice {~order}; he says the {~product} plugin crashes on start."),
    ("ticket", "en", "For the background check we need the SSN on file: {SSN}. Date of birth {DOB}. -- {NAME}"),
    ("ticket", "en", "Identity verification: passport number {PASSPORT}, born {DOB}, National Insurance number {NINO}."),
    ("ticket", "en", "Customer {NAME} (NRIC {NRIC}) asked us to ship to {ADDR} instead."),
    ("ticket", "en", "You can reach me at {EMAIL_OBF} or on my cell {PHONE}. Regards, {NAME}"),
    ("ticket", "en", "Dear support, the invoice for {~amount} was charged twice to {CARD}. Kind regards, {NAME}, {ADDR}"),
    ("ticket", "en", "Ticket from {EMAIL}: tracking {~track} shows delivered but nothing arrived at {ADDR}."),
    ("ticket", "en", "Please don't use my old number, it's {PHONE_INTL} now. {FIRST}"),
    ("ticket", "de", "Guten Tag, mein Name ist {NAME}. Seit dem Update auf {~version} kann ich mich nicht mehr anmelden. Rückruf bitte unter {PHONE}."),
    ("ticket", "de", "Bitte ändern Sie meine Anschrift auf {ADDR}. Mit freundlichen Grüßen, {NAME}"),
    ("ticket", "de", "Die Rückerstattung von {~amount} bitte auf {IBAN} (Kontoinhaberin Frau {LAST}) überweisen."),
    ("ticket", "de", "Herr {LAST} ({EMAIL}) meldet, dass die Bestellung {~order} doppelt abgebucht wurde."),
    ("ticket", "de", "Für die Lohnabrechnung: Steuer-ID {IDNR}, geboren am {DOB}, wohnhaft {ADDR}."),
    ("ticket", "de", "AHV-Nummer {AHV} von {NAME} bitte im Personalstamm nachtragen. Tel. {PHONE}"),
    ("ticket", "de", "Kreditkarte {CARD} wurde abgelehnt, Sendungsnummer {~track}. Gruß {FIRST}"),
    ("ticket", "de", "Meine Kollegin {NAME2} ist ab sofort Ansprechpartnerin: {EMAIL2}, {PHONE}."),
    ("ticket", "fr", "Bonjour, je m'appelle {NAME} et je n'arrive plus à me connecter depuis la version {~version}. Mon numéro : {PHONE}."),
    ("ticket", "fr", "Merci de mettre à jour mon adresse : {ADDR}. Cordialement, {NAME}"),
    ("ticket", "fr", "Le remboursement de {~amount} doit être versé sur {IBAN}, titulaire Mme {LAST}."),
    ("ticket", "fr", "M. {LAST} ({EMAIL}) signale que la commande {~order} n'est jamais arrivée."),
    ("ticket", "fr", "Numéro de sécurité sociale {NIR}, né le {DOB}. Merci de corriger mon dossier. {NAME}"),
    ("ticket", "fr", "Ma collègue {NAME2} vous écrira depuis {EMAIL2} ; elle est joignable au {PHONE}."),
    ("ticket", "it", "Buongiorno, sono {NAME}. Dopo l'aggiornamento {~version} non riesco ad accedere. Potete richiamarmi al {PHONE}?"),
    ("ticket", "it", "Vi prego di aggiornare il mio indirizzo: {ADDR}. Cordiali saluti, {NAME}"),
    ("ticket", "it", "Il rimborso di {~amount} va accreditato su {IBAN}, intestato alla Sig.ra {LAST}."),
    ("ticket", "it", "Codice fiscale {CF}, nata il {DOB}. La Dott.ssa {LAST} attende conferma a {EMAIL}."),
    ("ticket", "it", "Il mio collega {NAME2} ({EMAIL2}) non lavora più da noi, rimuovete l'accesso. Grazie, {FIRST}"),
    ("ticket", "it", "Carta {CARD} addebitata due volte per l'ordine {~order}. Tel. {PHONE}"),
    # -- chats ----------------------------------------------------------------
    ("chat", "en", "[{~ts}] {FIRST}: my email is {EMAIL}, phone {PHONE}"),
    ("chat", "en", "[{~ts}] agent: thanks {FIRST}! could you confirm the last four of {CARD}?"),
    ("chat", "en", "[{~ts}] {FIRST}: sure, it's {EMAIL_OBF}, and my SSN is {SSN} if you need it"),
    ("chat", "en", "{NAME} joined the chat. {FIRST}: hi, I moved to {ADDR}"),
    ("chat", "en", "[{~ts}] {FIRST}: the server is {IP4}, and it talks to http://[{IP6}]:{~port}/health"),
    ("chat", "de", "[{~ts}] {FIRST}: Meine Handynummer ist {PHONE}, Mail {EMAIL}"),
    ("chat", "de", "[{~ts}] Agent: Danke, Herr {LAST}. Können Sie die IBAN {IBAN} bestätigen?"),
    ("chat", "de", "[{~ts}] {FIRST}: Passnummer {PASSPORT}, geboren {DOB}"),
    ("chat", "fr", "[{~ts}] {FIRST} : mon adresse mail c'est {EMAIL_OBF}, mon portable {PHONE}"),
    ("chat", "fr", "[{~ts}] Agent : merci Mme {LAST}, pouvez-vous confirmer votre passeport {PASSPORT} ?"),
    ("chat", "fr", "[{~ts}] {FIRST} : j'habite {ADDR}, au 3e étage"),
    ("chat", "it", "[{~ts}] {FIRST}: la mia email è {EMAIL}, cellulare {PHONE}"),
    ("chat", "it", "[{~ts}] Operatore: grazie Sig. {LAST}, mi conferma il passaporto {PASSPORT}?"),
    ("chat", "it", "[{~ts}] {FIRST}: abito in {ADDR}"),
    # -- crash reports --------------------------------------------------------------
    ("crash", "en", "{~jvm}: could not send receipt to {EMAIL}\n\tat com.example.billing.Mailer.send(Mailer.java:{~ms})\n\tregion={~region} build={~gitsha}"),
    ("crash", "en", "Unhandled exception in {~product} {~version} for user {EMAIL} from {IP4}: token={SECRETV}"),
    ("crash", "en", "panic: auth failed for {EMAIL}\ngoroutine 1 [running]:\nmain.login(0xc000{~ms})\nenv: GITHUB_TOKEN={TOKEN}"),
    ("crash", "en", "Traceback (most recent call last):\n  File \"/srv/app/pay.py\", line {~ms}, in charge\nValueError: card {CARD} declined for {NAME}"),
    ("crash", "en", "config dump: db_password={SECRETV} slack_webhook_token={TOKEN} region={~region}"),
    ("crash", "en", "crash id {~uuid}: key material leaked in core\n{PEM}"),
    ("crash", "de", "Fehler {~jvm} beim Versand an {EMAIL} (Kunde {NAME}, Tel. {PHONE})"),
    ("crash", "fr", "Erreur fatale {~jvm} : impossible d'envoyer la facture à {EMAIL} ({NAME})"),
    ("crash", "it", "Errore {~jvm}: impossibile inviare la fattura a {EMAIL} (cliente {NAME})"),
    ("crash", "en", "Exception in thread \"main\" {~jvm}: Authorization: Bearer {JWT}"),
    # -- bug reports -------------------------------------------------------------
    ("bug", "en", "Steps: 1. log in as {EMAIL} 2. open profile 3. phone field shows {PHONE} twice. Reported by {NAME}."),
    ("bug", "en", "Export CSV leaks the IBAN column ({IBAN}) for {NAME}; expected it masked. Version {~version}."),
    ("bug", "en", "Validation rejects the passport number {PASSPORT} for {NAME} although it is correct."),
    ("bug", "en", "Form accepts an SSN like {SSN} but saves it as a phone number. Build {~gitsha}."),
    ("bug", "en", "The Slack integration logs its token in clear: {TOKEN} (seen on {~date})"),
    ("bug", "en", "Address autocomplete breaks on {ADDR}; reporter {NAME} <{EMAIL}>"),
    ("bug", "de", "Beim Speichern der Steuer-ID {IDNR} erscheint ein Fehler, gemeldet von {NAME} ({EMAIL})."),
    ("bug", "de", "Die AHV-Nr. {AHV} wird im PDF ungeschwärzt angezeigt. Version {~version}."),
    ("bug", "fr", "Le champ NIR refuse {NIR} alors qu'il est valide. Signalé par {NAME}, {PHONE}."),
    ("bug", "it", "Il codice fiscale {CF} di {NAME} viene rifiutato dal modulo. Versione {~version}."),
    ("bug", "en", "Spanish customers: DNI {DNI} and NIE {NIE} fail validation; Dutch BSN {BSN} too."),
    # -- access logs ------------------------------------------------------------
    ("access_log", "en", "{IP4} - - [{~ts}] \"GET /account?email={EMAIL_ENC} HTTP/1.1\" 200 {~ms}"),
    ("access_log", "en", "{IP6} - - [{~ts}] \"POST /login HTTP/2\" 302 {~ms} \"-\" \"{~product}\""),
    ("access_log", "en", "{IP4} - - [{~ts}] \"GET /reset?token={SECRETV}&user={EMAIL_ENC} HTTP/1.1\" 200 {~ms}"),
    ("access_log", "en", "upstream http://[{IP6}]:{~port}/api/v1/orders/{~order} took {~ms} ms"),
    ("access_log", "de", "{IP4} - - [{~ts}] \"GET /kunden/suche?name={LAST}&tel={PHONE_INTL} HTTP/1.1\" 200 {~ms}"),
    ("access_log", "fr", "{IP4} - - [{~ts}] \"GET /compte?mail={EMAIL_ENC} HTTP/1.1\" 404 {~ms}"),
    ("access_log", "it", "{IP4} - - [{~ts}] \"POST /ordini/{~order}?email={EMAIL_ENC} HTTP/1.1\" 201 {~ms}"),
    ("access_log", "en", "proxy: client {IP4} via {IP6} user={EMAIL} password={SECRETV} status=401"),
    # -- the issue's own examples ----------------------------------------------------
    ("access_log", "en", "{IP4} - - [{~ts}] \"GET /unsubscribe?email={EMAIL=jane.doe%40example.com} HTTP/1.1\" 200 {~ms}"),
    ("ticket", "en", "write to {EMAIL=sean.o'brien@example.ie} or call {PHONE=1-800-555-0199}, ext. line {PHONE=+1 425-882-8080x7}"),
    ("ticket", "en", "ISSN 0317-8471 is the journal, not a phone; tracking {~track}. Contact {EMAIL_OBF}."),
    ("chat", "en", "[{~ts}] {FIRST}: iban {IBAN=de89-3704-0044-0532-0130-00} and card {CARD=4111.1111.1111.1111}"),
    ("bug", "en", "bot token {SECRET=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx} posted in #general by {NAME}"),
    # -- no personal data: look-alikes only --------------------------------------------
    ("ticket", "en", "Order {~order} ({~amount}) shipped with tracking {~track}; ISBN {~isbn}, {~issn}."),
    ("ticket", "en", "After upgrading {~product} to {~version} the export fails with {~jvm} in {~region}."),
    ("ticket", "en", "Invoice {~order} for {~amount} is due on {~date}; reference {~uuid}."),
    ("ticket", "de", "Bestellung {~order} über {~amount} wurde mit Sendungsnummer {~track} verschickt."),
    ("ticket", "de", "Nach dem Update auf {~product} {~version} stürzt der Export ab ({~jvm})."),
    ("ticket", "fr", "La commande {~order} d'un montant de {~amount} a été expédiée, suivi {~track}."),
    ("ticket", "fr", "Depuis la mise à jour {~version} de {~product}, l'export plante ({~jvm})."),
    ("ticket", "it", "L'ordine {~order} di {~amount} è stato spedito con tracking {~track}."),
    ("ticket", "it", "Dopo l'aggiornamento di {~product} alla {~version} l'esportazione fallisce ({~jvm})."),
    ("crash", "en", "{~jvm} at {~hex} in worker {~uuid}\n\tcommit {~sha}\n\tregion {~region}, uptime {~ms} ms"),
    ("crash", "en", "segfault at {~hex} ip {~hex} sp {~hex} in libssl.so.{~version} build {~gitsha}"),
    ("crash", "en", "payment check failed: card {~luhnfail} fails Luhn, IBAN {~ibanbad} fails mod 97 (order {~order})"),
    ("bug", "en", "{~product} {~version} leaks memory: {~ms} MB after {~ms} requests on {~region}, see {~sha}"),
    ("bug", "en", "Sorting by amount puts {~amount} before {~amount}; dataset {~uuid}, {~issn}."),
    ("bug", "de", "Sortierung nach Betrag falsch: {~amount} vor {~amount}; Datensatz {~uuid}."),
    ("bug", "fr", "Le tri par montant place {~amount} avant {~amount} ; jeu de données {~uuid}."),
    ("access_log", "en", "10.0.{~ms} - - [{~ts}] \"GET /api/v2/items/{~uuid} HTTP/1.1\" 200 {~ms} - {~product}/{~version}"),
    ("access_log", "en", "[{~ts}] GET /orders/{~order}?token=<redacted>&password=******** 200 {~ms}ms region={~region}"),
    ("chat", "en", "[{~ts}] agent: your parcel {~track} left the depot; order {~order}, {~amount}"),
    ("chat", "it", "[{~ts}] Operatore: il pacco {~track} è in consegna, ordine {~order} ({~amount})"),
]
# fmt: on
