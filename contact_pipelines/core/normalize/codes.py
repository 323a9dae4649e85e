"""Coded values: gender, language, country, subscription status, consent flags.

Each is a lookup after folding case and whitespace, done once per unique
value. Unrecognised values are dropped with ``invalid_<field>``; none is
guessed, because a wrong code (say an unsubscribed contact sent as
subscribed) does more harm than an empty one.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pycountry

from contact_pipelines.core.normalize import Normalized, clean_strings, lookup_normalized


def _table(groups: dict[Any, str]) -> dict[str, Any]:
    """{value: "alias alias ..."} written compactly -> {folded alias: value}."""
    return {
        alias.lower(): value for value, aliases in groups.items() for alias in aliases.split("|")
    }


GENDERS = _table(
    {
        "male": "m|male|man|men|boy|mr|h|hombre|masculino|masculine|männlich|mannlich|herr|homme"
        "|masculin|mężczyzna|mezczyzna|uomo|maschio|maschile|homem|ч|чол|чоловік|чоловіча|м|муж"
        "|мужской|мужчина|мужчины|чоловіча стать",
        "female": "f|female|woman|women|girl|mrs|ms|miss|w|mujer|femenino|feminine|weiblich|frau"
        "|femme|féminin|feminin|kobieta|donna|femmina|femminile|mulher|ж|жін|жінка|жіноча|жен"
        "|женский|женщина|жіноча стать",
    }
)

_YES = "yes|y|true|t|1|on|да|д|так|sí|si|ja|oui|tak|sì|sim|x|+|subscribed|opt-in|optin|opted in"
_NO = "no|n|false|f|0|off|нет|ні|н|nein|non|nie|não|nao|-|unsubscribed|opt-out|optout|opted out"
BOOLEANS = _table({True: _YES, False: _NO})

STATUSES = _table(
    {
        "subscribed": _YES + "|subscribe|active|confirmed|подписан|подписана|підписаний|підписана"
        "|suscrito|abonniert|abonné|zapisany",
        "unsubscribed": _NO + "|unsubscribe|inactive|отписан|отписана|відписаний|відписана"
        "|не подписан|не підписаний|dado de baja|abgemeldet|désabonné|wypisany",
        "blacklisted": "blacklisted|blacklist|blocked|banned|suppressed|do not contact|dnc|spam"
        "|заблокирован|заблокований|в черном списке|в чорному списку",
    }
)

_LANGUAGE_ALIASES = _table(
    {
        "uk": "українська|украинский|украинская|ukrainisch|ukrainien|ucraniano|ukraiński",
        "ru": "русский|російська|russisch|russe|ruso|rosyjski|russo",
        "en": "english|английский|англійська|englisch|anglais|inglés|ingles|angielski|inglese",
        "de": "deutsch|немецкий|німецька|german|allemand|alemán|aleman|niemiecki|tedesco",
        "fr": "français|francais|французский|французька|französisch|francés|francuski|francese",
        "es": "español|espanol|castellano|испанский|іспанська|spanisch|espagnol|hiszpański",
        "pl": "polski|польский|польська|polnisch|polonais|polaco|polacco",
        "it": "italiano|итальянский|італійська|italienisch|italien",
        "pt": "português|portugues|португальский|португальська|portugiesisch|portugais",
    }
)

_COUNTRY_ALIASES = _table(
    {
        "GB": "uk|u.k.|great britain|britain|england|scotland|wales|northern ireland"
        "|великобритания|велика британія|англия|англія",
        "US": "usa|u.s.a.|u.s.|america|united states of america|сша|америка|estados unidos",
        "UA": "україна|украина|ukraina|ucrania|ukraine|ucraina",
        "RU": "russia|россия|росія|russland|rusia|rosja",
        "DE": "deutschland|германия|німеччина|allemagne|alemania|niemcy|germania",
        "FR": "франция|франція|frankreich|francia|francja",
        "ES": "españa|espana|испания|іспанія|spanien|espagne|hiszpania|spagna",
        "PL": "polska|польша|польща|polen|pologne|polonia",
        "IT": "italia|италия|італія|italien|italie|włochy",
        "PT": "португалия|португалія|portugal",
        "MD": "moldova|молдова|молдавия",
        "BY": "belarus|беларусь|білорусь",
        "KZ": "казахстан|kazakhstan",
        "CZ": "czechia|czech republic|чехия|чехія",
        "KR": "south korea|korea",
        "NL": "holland|нидерланды|нідерланди",
    }
)

# "en-GB", "uk_UA": a locale whose language part is the answer
_LOCALE = r"^([a-z]{2,3})[-_][a-z0-9]{2,4}$"


@cache
def language_codes() -> dict[str, str]:
    table: dict[str, str] = {}
    for language in pycountry.languages:
        code = getattr(language, "alpha_2", None)
        if code is None:
            continue  # no ISO-639-1 code: vendors could not take it anyway
        for key in ("alpha_2", "alpha_3", "bibliographic", "name", "common_name"):
            if hasattr(language, key):
                table.setdefault(getattr(language, key).lower(), code)
    return table | _LANGUAGE_ALIASES


@cache
def country_codes() -> dict[str, str]:
    table: dict[str, str] = {}
    for country in pycountry.countries:
        for key in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            if hasattr(country, key):
                table.setdefault(getattr(country, key).lower(), country.alpha_2)
    return table | _COUNTRY_ALIASES


def normalize_gender(values: Any) -> Normalized:
    """ "male" or "female"; anything else dropped with ``invalid_gender``."""
    return lookup_normalized(values, GENDERS, pa.string(), "gender")


def normalize_language(values: Any) -> Normalized:
    """ISO-639-1 code from codes, English or native names, or locales like en-GB."""
    cleaned = pc.utf8_lower(clean_strings(values))
    language_part = pc.replace_substring_regex(cleaned, _LOCALE, r"\1")
    return lookup_normalized(language_part, language_codes(), pa.string(), "language")


def normalize_country(values: Any) -> Normalized:
    """ISO-3166 alpha-2 code from codes, names or common aliases."""
    return lookup_normalized(values, country_codes(), pa.string(), "country")


def normalize_status(values: Any, field: str = "email_status") -> Normalized:
    """subscribed / unsubscribed / blacklisted from yes/no words and status names."""
    return lookup_normalized(values, STATUSES, pa.string(), field)


def normalize_boolean(values: Any, field: str = "consent_marketing") -> Normalized:
    """True / False from yes/no words in several languages."""
    return lookup_normalized(values, BOOLEANS, pa.bool_(), field)
