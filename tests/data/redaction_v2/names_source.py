# ruff: noqa: E501, RUF005 -- data: a template is one line of text, as long as the line it renders
"""The names tuning split: people's names in the contexts people write them (``make_dataset.py``).

Written after the first tuning split stopped teaching (every type 1.000 on it):
its own templates and names, chosen to test context rather than lists. Most
first names are not in Faker's person providers (the list the name detector
reads), so a line is found by its context or not at all; names are written as
chats, logs, JSON, CSV and mail clients write them (lower case, ALL CAPS,
initials, "Last, First"), with particles, hyphens, apostrophes and accents,
and from origins beyond the four languages. A third of the lines hold no
person but the words that look like one: cities, companies, products, months,
weekdays, streets alone, teams after a greeting.

Detectors may be tuned on what this file makes. Nothing here may appear in
``heldout_source.py`` (``tests/collect/test_redaction_dataset.py`` checks it).
"""

# fmt: off
PREFIX = "n"
RENDERS = 6

NAMES = {
    "en": (
        ["Priya", "Kwame", "Ngozi", "Tariq", "Siddharth", "Oluwaseun", "Thandiwe", "Oisín", "Tadhg"]
        + ["Eilidh", "Ffion", "Dafydd", "Tamsin", "Anoushka", "Kofi", "Mei-Lin", "Jae-won", "Bronagh"]
        + ["Lachlan", "Meredith"],
        ["O'Connor", "McAllister", "Adeyemi", "Nguyen", "Kowalski", "Fairbairn", "Thistlewood"]
        + ["Quigley", "Okonkwo", "Chaudhry", "Van Buren", "Abernathy", "Rutherford", "MacLeod"]
        + ["Osei", "Da Silva", "Haddad-Jones"],
    ),
    "de": (
        ["Karl-Heinz", "Hans-Peter", "Hinnerk", "Kai-Uwe", "Jens-Peter", "Radek", "Łukasz"]
        + ["Małgorzata", "Zsófia", "Ioana", "Søren", "Wiebke", "Frauke", "Detlef", "Gerlinde"]
        + ["Sönke", "Almut", "Volkmar"],
        ["von Arnim", "Schulze-Wehninck", "Yılmaz", "Nowak", "Heßling", "Kröger", "Tiedemann"]
        + ["Haberkorn", "zu Salm", "Ebersbach", "Kowalczyk", "Dvořák", "Oberländer", "Rieß"]
        + ["van der Meulen"],
    ),
    "fr": (
        ["Marie-Claire", "Bérénice", "Gwenaël", "Marie-Hélène", "Jean-Baptiste", "Pierre-Yves"]
        + ["Anne-Laure", "Enguerrand", "Jean-Marc", "Marie-Pierre", "Apolline", "Ghislain"]
        + ["Capucine", "Corentin", "Mamadou"],
        ["de Montfort", "N'Diaye", "Le Goff", "Lemaire", "Benali", "Lacroix-Dumas", "Desjardins"]
        + ["Kervella", "Bouchard", "Quéméner", "du Plessis", "Aubert", "Ferrand", "Le Bihan"],
    ),
    "it": (
        ["Benedetta", "Sveva", "Ottavia", "Ginevra", "Tancredi", "Brunella", "Nunzia"]
        + ["Maria Grazia", "Pierluigi", "Gennaro", "Calogero", "Loredana", "Ermanno", "Carmine"],
        ["D'Alessio", "Di Stefano", "Lo Russo", "Mancuso", "Tumminello", "Ferraro", "Squillace"]
        + ["Dell'Acqua", "Scognamiglio", "Pagliarulo", "La Rocca", "Sorrentino", "Cannavò", "Zanetti"],
    ),
}

# Words of the look-alike lines: capitalised, never a person here.
WORDS = {
    "city": ["Magdeburg", "Stuttgart", "Grenoble", "Montpellier", "Bologna", "Verona", "Glasgow", "Brighton", "Lucerne", "Schaffhausen", "Nantes", "Padova"],
    "company": ["Northwind Traders", "Contoso Ltd", "Fabrikam GmbH", "Globex Corporation", "Deutsche Bahn", "Crédit Agricole", "Banca Sella", "Swiss Re", "Société Générale", "Poste Italiane", "Allianz Direct", "Wide World Importers"],
    "app": ["Power BI", "Apple Watch", "Samsung Galaxy Tab", "Nintendo Switch", "Lenovo ThinkPad", "Surface Pro", "Fire TV Stick", "Philips Hue", "Dell Latitude", "Norton Security", "Logitech Options", "Google Meet"],
    "month": ["January", "March", "September", "Februar", "Oktober", "janvier", "Juillet", "Novembre", "gennaio", "Marzo"],
    "weekday": ["Monday", "Thursday", "Montag", "Donnerstag", "Mardi", "Vendredi", "Lunedì", "Giovedì"],
    "street": ["Baker Street", "Königsallee", "Rue de Rivoli", "Via del Corso", "Kurfürstendamm", "Promenade des Anglais", "Oxford Road", "Maximilianstraße"],
    "team": ["Platform Team", "Customer Success", "Release Management", "Billing Operations", "Data Engineering", "Site Reliability"],
}

# No addresses are labelled in this split (ADDR is not used); the tables are
# here because the renderer expects them.
STREETS: dict[str, list[str]] = {}
PLACES: dict[str, list[tuple[str, ...]]] = {}

# (source, language, template): fields in braces, see make_dataset.field_value.
TEMPLATES = [
    # -- greetings, sign-offs, signatures --------------------------------------------
    ("ticket", "en", "Hello {FIRST},\nthanks for the quick reply, the export works again.\nBest,\n{NAME2}"),
    ("ticket", "en", "Regards\n\n{NAME}\nSenior Buyer, Northwind Traders\n{PHONE_INTL}"),
    ("ticket", "en", "Thanks,\n{INIT_LAST}\n--\nSent from my phone"),
    ("ticket", "en", "Morning {FIRST}, any news on the refund of {~amount}? Cheers, {FIRST2}"),
    ("ticket", "de", "Hallo {FIRST},\nvielen Dank für die schnelle Hilfe!\nViele Grüße\n{NAME2}"),
    ("ticket", "de", "Sehr geehrte Frau {LAST},\nanbei die korrigierte Rechnung {~order}.\nMit freundlichen Grüßen\n{NAME2}"),
    ("ticket", "fr", "Bonjour {FIRST},\nmerci pour votre retour rapide.\nBien cordialement,\n{NAME2}"),
    ("ticket", "fr", "Madame {LAST}, nous avons bien reçu votre demande de remboursement. Bonne journée, {NAME2}"),
    ("ticket", "it", "Ciao {FIRST},\ngrazie per l'aiuto di ieri.\nUn saluto,\n{NAME2}"),
    ("ticket", "it", "Gentile Sig.ra {LAST},\nla sua pratica è stata chiusa.\nCordiali saluti\n{NAME2}"),
    # -- people introduced by the sentence ---------------------------------------------
    ("ticket", "en", "Please add my colleague {NAME2} to the billing account; she starts on {~date}."),
    ("ticket", "en", "cc {NAME2}: the refund of {~amount} for order {~order} is still pending."),
    ("ticket", "en", "Spoke with {NAME} on the phone today; she confirmed the new delivery date."),
    ("ticket", "en", "The account was opened by {NAME} in 2019 and handed over to {NAME2} last year."),
    ("ticket", "de", "Bitte meinen Kollegen {NAME2} in CC nehmen, er übernimmt ab Montag."),
    ("ticket", "de", "Ansprechpartner vor Ort ist {NAME}, erreichbar über {EMAIL}."),
    ("ticket", "fr", "Je vous mets en copie {NAME2}, qui suivra le dossier à partir de lundi."),
    ("ticket", "it", "Metto in copia {NAME2}, che segue la pratica da lunedì."),
    # -- titles ---------------------------------------------------------------------
    ("ticket", "en", "Dr {LAST} asked us to move the appointment; Mrs {LAST2} will confirm by e-mail."),
    ("ticket", "en", "Ms {NAME} from procurement approved the purchase order {~order}."),
    ("ticket", "de", "Herr Dr. {LAST} bittet um Rückruf, Frau {LAST2} ist bis Freitag im Urlaub."),
    ("ticket", "fr", "M. {LAST} et Mme {LAST2} ont signé le contrat hier."),
    ("ticket", "it", "Il Dott. {LAST} e la Sig.ra {LAST2} hanno approvato il preventivo."),
    # -- assignment, mail clients, mentions -------------------------------------------
    ("bug", "en", "Assigned to {NAME}. Repro on {~product} {~version}, see {~gitsha}."),
    ("bug", "en", "Owner: {INIT_LAST} | Priority: high | Component: {~product}"),
    ("ticket", "en", "On {~date}, {NAME} <{EMAIL}> wrote:\n> the invoice is wrong again"),
    ("chat", "en", "@{FIRST} can you check why {~jvm} shows up in {~region}?"),
    ("bug", "de", "Zugewiesen an {NAME}, Priorität hoch, betrifft {~product} {~version}."),
    ("ticket", "de", "Am {~date} schrieb {NAME} <{EMAIL}>:\n> Die Lieferung ist unvollständig."),
    ("bug", "fr", "Assigné à {NAME} ; reproduit sur {~product} {~version}."),
    ("ticket", "fr", "Le {~date}, {NAME} <{EMAIL}> a écrit :\n> la facture est fausse"),
    ("bug", "it", "Assegnato a {NAME}, riprodotto su {~product} {~version}."),
    ("ticket", "it", "Il {~date} {NAME} <{EMAIL}> ha scritto:\n> il pagamento non risulta"),
    # -- chats: names as people type them ------------------------------------------------
    ("chat", "en", "[{~ts}] {FIRST_LC}: hi, still can't log in after the {~version} update"),
    ("chat", "en", "[{~ts}] {NAME} has left the conversation"),
    ("chat", "de", "[{~ts}] {FIRST_LC}: hallo, die App stürzt beim Start ab"),
    ("chat", "fr", "[{~ts}] {FIRST_LC} : salut, ça ne marche toujours pas"),
    ("chat", "it", "[{~ts}] {FIRST_LC}: ciao, l'app non si apre più"),
    # -- logs, JSON, CSV ----------------------------------------------------------------
    ("crash", "en", "{~ts} INFO checkout user_name=\"{NAME_UC}\" region={~region} latency={~ms}ms"),
    ("access_log", "en", "{~ts} audit action=login display_name=\"{NAME}\" result=ok"),
    ("bug", "en", "{{\"ticket\": \"{~order}\", \"customer\": \"{NAME}\", \"status\": \"open\"}}"),
    ("bug", "en", "{{\"assignee\": {{\"displayName\": \"{NAME}\", \"active\": true}}, \"key\": \"OPS-{~ms}\"}}"),
    ("ticket", "en", "id,name,email,plan\n{~ms},{NAME},{EMAIL},Premium"),
    ("crash", "de", "WARN auftrag={~order} kunde=\"{NAME_UC}\" status=abgelehnt"),
    ("crash", "fr", "ERREUR client=\"{NAME}\" commande={~order} motif=carte refusée"),
    ("crash", "it", "ERRORE utente=\"{NAME}\" ordine={~order} esito=rifiutato"),
    ("crash", "en", "CARDHOLDER: {LAST_FIRST_UC} / AUTH DECLINED / REF {~order}"),
    # -- a second batch, scored once before any rule was written for it ---------------
    ("ticket", "en", "Could you ask {NAME} from accounting to resend the invoice?"),
    ("ticket", "en", "{FIRST} here again: the VPN drops every hour since {~date}."),
    ("ticket", "en", "As per {NAME}'s request, please close the account."),
    ("bug", "en", "Reviewer: {NAME}\nStatus: approved\nBuild: {~gitsha}"),
    ("ticket", "en", "Thank you {NAME} for the swift response!"),
    ("chat", "en", "[{~ts}] {NAME}: morning all, the build is red again"),
    ("chat", "en", "[{~ts}] {FIRST_LC}: thx, that fixed it"),
    ("ticket", "en", "hi {FIRST_LC}, thanks for the update"),
    ("ticket", "en", "{NAME} <{EMAIL}> has been added to the project."),
    ("crash", "en", "audit: role granted to {NAME_UC} by ADMIN at {~ts}"),
    ("bug", "en", "name;email;city\n{NAME};{EMAIL};{~city}"),
    ("ticket", "de", "Liebe Frau {LAST}, lieber Herr {LAST2},\nder Termin wurde verschoben."),
    ("ticket", "de", "Rückfragen bitte an {NAME} ({PHONE})."),
    ("ticket", "de", "Im Auftrag\n{INIT_LAST}"),
    ("ticket", "fr", "Chère {FIRST}, cher {FIRST2}, voici le devis."),
    ("ticket", "fr", "Dossier suivi par {NAME}, service facturation."),
    ("ticket", "it", "Gentile {NAME}, le confermiamo la ricezione del pagamento."),
    ("ticket", "it", "Referente: {NAME}, tel. {PHONE}"),
    ("ticket", "en", "Dear Sir or Madam,\nplease find the {~month} report attached.\nKind regards\nAccounts Payable"),
    ("ticket", "de", "Sehr geehrte Damen und Herren,\ndie Rechnung für {~month} fehlt.\nMit freundlichen Grüßen\nBuchhaltung"),
    ("chat", "en", "[{~ts}] system: Welcome Guest! An agent will be with you shortly."),
    ("ticket", "en", "Thanks {~company} for the quick fix on {~app}."),
    ("ticket", "fr", "Merci {~company} pour la livraison à {~city}."),
    ("bug", "en", "@Override\npublic void onMessage(Message msg) throws {~jvm}"),
    ("ticket", "it", "Grazie mille, Servizio Clienti di {~company}"),
    ("ticket", "en", "Hi {~team}, {~app} crashes since {~weekday}."),
    # -- a third batch, scored once before any rule was written for it ----------------
    ("ticket", "en", "Hey {FIRST}! Quick one: is the {~app} licence transferable?"),
    ("ticket", "en", "I'm writing on behalf of my mother, {NAME}, who cannot use e-mail."),
    ("ticket", "en", "The parcel was signed for by {NAME} at reception."),
    ("bug", "en", "QA sign-off: {NAME} ({~date})"),
    ("chat", "en", "[{~ts}] Agent {FIRST2}: Hello {FIRST}, how can I help?"),
    ("ticket", "en", "Mr. and Mrs. {LAST} asked for a joint account."),
    ("ticket", "de", "Guten Morgen {FIRST}, kurze Frage zum Vertrag."),
    ("ticket", "de", "Der Kunde {NAME} hat am {~date} angerufen."),
    ("ticket", "de", "Unterschrieben von {NAME}, Geschäftsführer."),
    ("ticket", "fr", "Salut {FIRST} ! Le lien ne marche plus."),
    ("ticket", "fr", "Le client {NAME} a appelé le {~date} au sujet de sa facture."),
    ("ticket", "fr", "Je suis {NAME}, gérante de la boutique de {~city}."),
    ("ticket", "it", "Salve, sono {NAME} dell'ufficio tecnico."),
    ("ticket", "it", "Il cliente {NAME} ha chiamato il {~date} per la fattura."),
    ("ticket", "it", "Buonasera {FIRST}, ho ricevuto il pacco."),
    ("crash", "en", "user.name={NAME_UC} user.id={~ms} action=delete_account"),
    ("access_log", "en", "{~ts} sso: login ok for {INIT_LAST} ({~region})"),
    ("bug", "en", "Contributors: {NAME}, {NAME2}"),
    ("ticket", "en", "{NAME} and {NAME2} will join the call on {~weekday}."),
    ("ticket", "en", "Hey Support! Quick one: is the {~app} licence transferable?"),
    ("ticket", "de", "Der Kunde hat am {~date} wegen {~app} angerufen."),
    ("bug", "en", "Contributors: {~team}, {~team}"),
    ("ticket", "fr", "Salut l'équipe ! Le lien vers {~app} ne marche plus."),
    ("ticket", "it", "Salve, l'ufficio di {~city} non riceve le fatture di {~company}."),
    ("crash", "en", "user.role=ADMIN user.id={~ms} action=DELETE ACCOUNT"),
    ("ticket", "en", "New stores in {~city} and {~city} close early on {~weekday}."),
    # -- a fourth batch, scored once before any rule was written for it ---------------
    ("ticket", "en", "Thanks for the help! - {FIRST}"),
    ("ticket", "en", "Please contact {NAME} directly on {PHONE}."),
    ("ticket", "en", "The order was placed by {NAME} on {~date}."),
    ("ticket", "en", "{LAST_FIRST} - Account Manager"),
    ("chat", "en", "[{~ts}] {FIRST} ({~region}): the dashboard is blank"),
    ("ticket", "de", "Ich bin {NAME} und arbeite in der Buchhaltung."),
    ("ticket", "de", "Die Rechnung ist an {NAME} adressiert."),
    ("ticket", "de", "Bitte wenden Sie sich an {NAME}."),
    ("ticket", "fr", "Merci de contacter {NAME} au {PHONE}."),
    ("ticket", "fr", "De : {NAME} <{EMAIL}>\nObjet : facture {~order}"),
    ("ticket", "it", "Per informazioni rivolgersi a {NAME}."),
    ("ticket", "it", "Saluti da {NAME} e da tutto il team."),
    ("crash", "en", "{~ts} ERROR PaymentService - charge failed for customer '{NAME}' (id {~ms})"),
    ("bug", "en", "Steps to reproduce (by {FIRST}): open the app, tap export."),
    ("ticket", "en", "Regards / Mit freundlichen Grüßen\n{NAME}"),
    ("ticket", "en", "Sent by {NAME} via the mobile app"),
    ("ticket", "en", "Happy to help, {FIRST}!"),
    ("ticket", "en", "Please contact Customer Service directly."),
    ("ticket", "en", "The order was placed by Purchasing on {~date}."),
    ("ticket", "it", "Per informazioni rivolgersi a Ufficio Vendite."),
    ("crash", "en", "{~ts} ERROR PaymentService - charge failed for merchant '{~company}' (id {~ms})"),
    ("ticket", "en", "Happy to help, {~team}!"),
    # -- no person: look-alikes only ----------------------------------------------------
    ("ticket", "en", "Hi all, the {~app} update broke the export on {~weekday}."),
    ("ticket", "en", "Dear team,\nthe dashboards in {~region} are empty since {~month}.\nThanks"),
    ("crash", "en", "Caused by: {~jvm}\n\tat org.apache.catalina.core.StandardWrapperValve.invoke(StandardWrapperValve.java:{~ms})"),
    ("ticket", "en", "Please ship the order to our office in {~city}, not to the warehouse in {~city}."),
    ("ticket", "en", "Regards,\nCustomer Success Team\n{~company}"),
    ("bug", "en", "Assigned to {~team}. Affects {~app} on {~region}."),
    ("ticket", "en", "Good morning, {~weekday}'s release of {~app} {~version} went fine. Best, {~team}"),
    ("crash", "en", "{~ts} WARN service=payment-gateway region={~region} host=ip-10-0-{~ms} msg=\"Connection Reset By Peer\""),
    ("bug", "en", "{{\"product\": \"{~app}\", \"vendor\": \"{~company}\", \"region\": \"{~region}\"}}"),
    ("access_log", "en", "[{~ts}] store lookup city={~city} street=\"{~street}\" status=200 took={~ms}ms"),
    ("chat", "en", "[{~ts}] agent: Thanks for waiting! Your parcel left {~city} on {~weekday}."),
    ("ticket", "de", "Hallo zusammen, seit {~weekday} funktioniert der Login über {~app} nicht mehr."),
    ("ticket", "de", "Viele Grüße\nIhr Kundenservice-Team\n{~company}"),
    ("ticket", "de", "Die Filiale in der {~street} in {~city} hat am {~weekday} geschlossen."),
    ("ticket", "fr", "Bonjour à tous, la mise à jour {~version} de {~app} bloque l'export depuis {~month}."),
    ("ticket", "fr", "Cordialement,\nLe service client\n{~company}"),
    ("ticket", "fr", "Le magasin de la {~street} à {~city} est fermé le {~weekday}."),
    ("ticket", "it", "Buongiorno a tutti, da {~month} il portale di {~company} è lento a {~city}."),
    ("ticket", "it", "Cordiali saluti\nUfficio Acquisti\n{~company}"),
    ("chat", "it", "[{~ts}] Operatore: Grazie per l'attesa! Il pacco è partito da {~city} {~weekday}."),
]
# fmt: on
