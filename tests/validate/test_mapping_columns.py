import pytest

from contact_pipelines.core.config import SourceConfig
from contact_pipelines.core.mapping import resolve_columns

DEFAULT = SourceConfig(name="default", match="*")


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        ("E-mail Address", "email"), ("\ufeffEmail", "email"), ("EMAIL_ADDRESS", "email"),
        ("Mobile Phone", "phone"), ("Phone Number", "phone"), ("Телефон", "phone"),
        ("Имя", "first_name"), ("Ім'я", "first_name"), ("Фамилия", "last_name"),
        ("Прізвище", "last_name"), ("Город", "city"), ("Місто", "city"),
        ("Correo electrónico", "email"), ("Teléfono", "phone"), ("Nombre", "first_name"),
        ("Apellido", "last_name"), ("Vorname", "first_name"), ("Nachname", "last_name"),
        ("Geburtsdatum", "birth_date"), ("Prénom", "first_name"),
        ("Date de naissance", "birth_date"), ("Nazwisko", "last_name"), ("Cognome", "last_name"),
        ("Data de nascimento", "birth_date"), ("Client ID", "external_id"),
        ("Customer ID", "external_id"), ("externalCustomerId", "external_id"),
        ("Birthday", "birth_date"), ("DOB", "birth_date"), ("Zip", "postcode"),
        ("Postal code", "postcode"), ("Groups", "groups"), ("Tags", "groups"),
        ("Lists", "groups"), ("Subscribed", "email_status"), ("Подписка", "email_status"),
        ("Дата изменения", "updated_at"), ("Updated", "updated_at"),
        ("Last modified", "updated_at"), ("Marketing consent", "consent_marketing"),
        ("Language", "language"), ("Country", "country"), ("firstName", "first_name"),
        ("lastName", "last_name"), ("pushToken", "push_token"), ("devices.token", "push_token"),
        ("devices.0.pushToken", "push_token"), ("channels.mobilepush", "push_token"), ("devices.appId", "push_app_id"),
        ("devices.deviceModel", "push_device_model"), ("devices.os", "push_os"),
        ("devices.locale", "push_locale"), ("devices.appVersion", "push_app_version"),
        ("contact.email", "email"),
    ],
)  # fmt: skip
def test_synonyms(header, canonical):
    mapping = resolve_columns([header], DEFAULT)
    assert mapping.by_header == {header: canonical}
    assert mapping.unmapped == []


def test_unknown_headers_are_listed_not_dropped():
    mapping = resolve_columns(["Email", "Favourite colour", "source_row"], DEFAULT)
    assert mapping.by_header == {"Email": "email"}
    assert mapping.unmapped == ["Favourite colour"]


def test_config_wins_over_synonyms_and_first_header_wins():
    source = SourceConfig(
        name="crm", match="*", columns={"Contact mail": "email", "Plan": "field:plan_type"}
    )
    mapping = resolve_columns(["E-mail", "Contact mail", "Plan", "Email 2", "email"], source)
    assert mapping.by_header == {"Contact mail": "email", "Plan": "field:plan_type"}
    assert mapping.conflicts == ["E-mail", "email"]
    assert mapping.unmapped == ["Email 2"]


def test_config_can_remap_a_synonym_header():
    source = SourceConfig(name="crm", match="*", columns={"Phone": "field:office_phone"})
    mapping = resolve_columns(["Phone", "Mobile"], source)
    assert mapping.by_header == {"Phone": "field:office_phone", "Mobile": "phone"}


def test_config_keys_match_headers_loosely():
    source = SourceConfig(name="crm", match="*", columns={"E-mail": "email"})
    assert resolve_columns(["\ufeffe-mail "], source).by_header == {"\ufeffe-mail ": "email"}
