"""Source headers -> canonical fields.

The source's ``columns`` from the config come first; every other header is
looked up in built-in synonyms of common exports (English, Ukrainian,
Russian, Spanish, German, French, Polish, Italian, Portuguese, and the keys
of Reteno's mobile-token JSON export). Headers are compared after folding:
case, accents, spaces and punctuation do not count, so ``E-mail Address``,
``email_address`` and ``EMAIL ADDRESS`` are one header. A dotted JSON key
(``devices.0.pushToken``) that is not known as a whole is looked up by its
last part.

When two headers land on the same canonical field the first wins (config
before synonyms, then left to right) and the others are listed in
``conflicts``; the raw table keeps every column, so nothing is lost.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from contact_pipelines.core.config import SourceConfig
from contact_pipelines.core.fields import RAW_META_COLUMNS

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "external_id": (
        "external id", "externalid", "external customer id", "externalCustomerId", "client id",
        "clientid", "customer id", "customerid", "customer number", "customer no", "user id",
        "userid", "contact id", "contactid", "crm id", "member id", "account id", "id клиента",
        "код клиента", "ид клиента", "id клієнта", "код клієнта", "номер клиента",
        "id cliente", "número de cliente", "kundennummer", "kunden id", "kunden-nr",
        "id client", "numéro client", "identifiant client", "id klienta", "numer klienta",
        "codice cliente", "código do cliente", "contactKey", "customerExternalId",
    ),
    "email": (
        "email", "e-mail", "email address", "e-mail address", "mail", "emailaddress",
        "email адрес", "электронная почта", "эл почта", "почта", "емейл", "имейл",
        "електронна пошта", "ел пошта", "пошта", "імейл", "correo", "correo electrónico",
        "e-mail-adresse", "mail-adresse", "adresse e-mail", "adresse mail", "courriel",
        "adres e-mail", "adres email", "indirizzo email", "posta elettronica",
        "endereço de email", "endereço de e-mail",
    ),
    "phone": (
        "phone", "phone number", "mobile", "mobile phone", "mobile number", "cell",
        "cell phone", "cellphone", "telephone", "tel", "msisdn", "sms", "mobilenumber",
        "phonenumber", "mobilephone", "телефон", "мобильный", "мобильный телефон",
        "номер телефона", "моб телефон", "мобільний", "мобільний телефон", "номер телефону",
        "teléfono", "telefono", "móvil", "movil", "celular", "número de teléfono", "telefon",
        "telefonnummer", "handy", "handynummer", "mobiltelefon", "téléphone", "portable",
        "numéro de téléphone", "numer telefonu", "telefon komórkowy", "komórka", "cellulare",
        "numero di telefono", "telemóvel", "número de telefone",
    ),
    "first_name": (
        "first name", "firstname", "given name", "forename", "name", "имя", "ім'я", "імя",
        "nombre", "vorname", "prénom", "prenom", "imię", "imie", "nome", "primeiro nome",
    ),
    "last_name": (
        "last name", "lastname", "surname", "family name", "фамилия", "прізвище",
        "apellido", "apellidos", "nachname", "familienname", "nom", "nom de famille",
        "nazwisko", "cognome", "sobrenome", "apelido",
    ),
    "birth_date": (
        "birth date", "birthdate", "birthday", "date of birth", "dob", "day of birth",
        "дата рождения", "день рождения", "дата народження", "день народження",
        "fecha de nacimiento", "cumpleaños", "geburtsdatum", "geburtstag",
        "date de naissance", "anniversaire", "data urodzenia", "data di nascita",
        "data de nascimento",
    ),
    "gender": (
        "gender", "sex", "пол", "стать", "género", "genero", "sexo", "geschlecht", "sexe",
        "genre", "płeć", "plec", "sesso", "gênero",
    ),
    "language": (
        "language", "lang", "language code", "languagecode", "preferred language", "язык",
        "мова", "idioma", "sprache", "langue", "język", "jezyk", "lingua", "locale",
    ),
    "country": (
        "country", "country code", "countrycode", "страна", "країна", "país", "pais", "land",
        "pays", "kraj", "paese", "nazione",
    ),
    "region": (
        "region", "state", "province", "county", "область", "регион", "регіон", "provincia",
        "estado", "bundesland", "région", "województwo", "wojewodztwo", "regione",
    ),
    "city": (
        "city", "town", "город", "місто", "населенный пункт", "населений пункт", "ciudad",
        "localidad", "stadt", "ort", "ville", "miasto", "miejscowość", "città", "citta",
        "cidade",
    ),
    "postcode": (
        "postcode", "post code", "postal code", "zip", "zip code", "zipcode", "индекс",
        "почтовый индекс", "поштовий індекс", "індекс", "código postal", "codigo postal",
        "postleitzahl", "plz", "code postal", "kod pocztowy", "cap", "codice postale",
    ),
    "address": (
        "address", "street address", "street", "address line 1", "адрес", "адреса", "улица",
        "вулиця", "dirección", "direccion", "adresse", "straße", "strasse", "adres", "ulica",
        "indirizzo", "endereço", "endereco", "rua",
    ),
    "timezone": ("timezone", "time zone", "tz", "часовой пояс", "часовий пояс", "zona horaria"),
    "push_token": (
        "push token", "pushtoken", "device token", "devicetoken", "fcm token", "fcmtoken",
        "apns token", "apnstoken", "registration id", "mobile push token",
    ),
    "push_app_id": ("app id", "appid", "application id", "bundle id"),
    "push_device_model": ("device model", "devicemodel"),
    "push_os": ("os", "device os", "deviceos", "platform", "operating system"),
    "push_app_version": ("app version", "appversion", "application version"),
    "push_locale": ("device locale", "devicelocale"),
    "webpush_token": (
        "webpush token", "web push token", "webpushtoken", "webpush", "web push",
        "webpush subscription", "browser token",
    ),
    "groups": (
        "groups", "group", "lists", "list", "tags", "tag", "segments", "segment",
        "address books", "группы", "группа", "списки", "теги", "метки", "сегмент", "групи",
        "група", "мітки", "grupos", "listas", "etiquetas", "gruppen", "listen", "groupes",
        "listes", "étiquettes", "grupy", "listy", "gruppi", "liste", "etichette",
    ),
    "email_status": (
        "subscribed", "subscription", "email subscribed", "email status", "emailstatus",
        "newsletter", "email opt in", "opt in", "подписка", "подписан", "підписка",
        "suscripción", "suscrito", "abonniert", "abonnement", "abonné", "subskrypcja",
        "iscritto", "inscrito",
    ),
    "sms_status": (
        "sms status", "smsstatus", "sms subscribed", "sms subscription", "sms opt in",
        "sms подписка", "sms підписка",
    ),
    "consent_terms": ("terms", "terms accepted", "consent terms", "accepted terms", "tos"),
    "consent_marketing": (
        "marketing consent", "consent marketing", "consent", "gdpr consent", "marketing opt in",
        "согласие", "згода", "consentimiento", "einwilligung", "consentement", "zgoda",
        "consenso",
    ),
    "consent_date": ("consent date", "opt in date", "optin date", "дата согласия", "дата згоди"),
    "consent_ip": ("consent ip", "opt in ip", "optin ip", "ip address", "ip"),
    "updated_at": (
        "updated", "updated at", "updatedat", "last modified", "modified", "last updated",
        "modified date", "date modified", "last update", "дата изменения", "изменен",
        "дата обновления", "дата зміни", "оновлено", "fecha de modificación", "geändert",
        "zuletzt geändert", "date de modification", "data modyfikacji", "ultima modifica",
        "data de modificação",
    ),
}  # fmt: skip

# The last part of a dotted key in a mobile-token export (devices.0.token, ...)
_DEVICE_KEYS: dict[str, tuple[str, ...]] = {
    "push_token": ("token", "push token", "device token", "mobilepush"),
    "push_app_id": ("app id", "application id"),
    "push_device_model": ("device model", "model"),
    "push_os": ("os", "platform"),
    "push_locale": ("locale", "language"),
    "push_app_version": ("app version", "version"),
}


@dataclass(frozen=True)
class ColumnMapping:
    by_header: dict[str, str]  # source header -> canonical field (or field:<name>)
    unmapped: list[str] = field(default_factory=list)  # headers no rule maps
    conflicts: list[str] = field(default_factory=list)  # headers whose field an earlier one took

    def header_for(self, canonical: str) -> str | None:
        """The source header that feeds ``canonical``, if any."""
        return next((h for h, c in self.by_header.items() if c == canonical), None)

    def describe(self) -> str:
        """One line for logs and metadata: what was mapped, skipped and why."""
        mapped = ", ".join(f"{h!r}->{c}" for h, c in self.by_header.items())
        return f"mapped: {mapped or 'none'}; unmapped: {self.unmapped}; conflicts: {self.conflicts}"


def header_key(header: str) -> str:
    """Fold a header for comparison: no case, accents, spaces or punctuation."""
    decomposed = unicodedata.normalize("NFKD", header.replace("\ufeff", "").casefold())
    return "".join(ch for ch in decomposed if ch.isalnum())


def _index(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {header_key(name): canonical for canonical, names in table.items() for name in names}


SYNONYMS = _index(_SYNONYMS)
DEVICE_KEYS = _index(_DEVICE_KEYS)


def synonym_for(header: str) -> str | None:
    """The canonical field a header means by the built-in synonyms, or None."""
    found = SYNONYMS.get(header_key(header))
    if found is None and "." in header:
        last = header_key(header.rsplit(".", 1)[-1])
        found = DEVICE_KEYS.get(last) or SYNONYMS.get(last)
    return found


def resolve_columns(headers: Iterable[str], source: SourceConfig) -> ColumnMapping:
    """Map each header to a canonical field: config first, then synonyms."""
    headers = [h for h in headers if h not in RAW_META_COLUMNS]
    configured = {header_key(h): target for h, target in source.columns.items()}
    candidates = [(h, source.columns.get(h) or configured.get(header_key(h))) for h in headers]
    # config-mapped headers claim their fields before any synonym can
    candidates += [(h, synonym_for(h)) for h, target in candidates if target is None]
    by_header: dict[str, str] = {}
    taken: set[str] = set()
    conflicts: list[str] = []
    for header, target in candidates:
        if target is None or header in by_header:
            continue
        if target in taken:
            conflicts.append(header)
            continue
        by_header[header] = target
        taken.add(target)
    ordered = {h: by_header[h] for h in headers if h in by_header}
    unmapped = [h for h in headers if h not in by_header and h not in conflicts]
    return ColumnMapping(ordered, unmapped, [h for h in headers if h in conflicts])
