import pytest

from contact_pipelines.core.normalize.codes import (
    normalize_boolean,
    normalize_country,
    normalize_gender,
    normalize_language,
    normalize_status,
)
from contact_pipelines.core.normalize.names import normalize_names, split_groups


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("M", "male"), ("f", "female"), ("Male", "male"), ("woman", "female"), ("Ч", "male"),
        ("Ж", "female"), ("чоловік", "male"), ("жінка", "female"), ("мужской", "male"),
        ("женский", "female"), ("hombre", "male"), ("mujer", "female"), ("männlich", "male"),
        ("weiblich", "female"), ("homme", "male"), ("femme", "female"), ("other", None),
    ],
)  # fmt: skip
def test_gender(raw, expected):
    result = normalize_gender([raw])
    assert result.values.to_pylist() == [expected]
    assert result.warnings.to_pylist() == [None if expected else "invalid_gender"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ukrainian", "uk"), ("uk", "uk"), ("ukr", "uk"), ("українська", "uk"), ("English", "en"),
        ("en-GB", "en"), ("EN_us", "en"), ("Deutsch", "de"), ("русский", "ru"), ("fra", "fr"),
        ("klingonese", None),
    ],
)  # fmt: skip
def test_language(raw, expected):
    assert normalize_language([raw]).values.to_pylist() == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("UA", "UA"), ("ukr", "UA"), ("Ukraine", "UA"), ("Україна", "UA"), ("Украина", "UA"),
        ("UK", "GB"), ("United Kingdom", "GB"), ("Deutschland", "DE"), ("germany", "DE"),
        ("United States", "US"), ("USA", "US"), ("Atlantis", None),
    ],
)  # fmt: skip
def test_country(raw, expected):
    assert normalize_country([raw]).values.to_pylist() == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("yes", "subscribed"), ("TRUE", "subscribed"), ("1", "subscribed"), ("да", "subscribed"),
        ("так", "subscribed"), ("sí", "subscribed"), ("Subscribed", "subscribed"),
        ("no", "unsubscribed"), ("0", "unsubscribed"), ("нет", "unsubscribed"),
        ("ні", "unsubscribed"), ("unsubscribed", "unsubscribed"), ("отписан", "unsubscribed"),
        ("blacklisted", "blacklisted"), ("maybe", None),
    ],
)  # fmt: skip
def test_status(raw, expected):
    result = normalize_status([raw], field="sms_status")
    assert result.values.to_pylist() == [expected]
    assert result.warnings.to_pylist() == [None if expected else "invalid_sms_status"]


def test_booleans():
    result = normalize_boolean(
        ["yes", "no", "1", "0", "так", "ні", "perhaps", None], "consent_terms"
    )
    assert result.values.to_pylist() == [True, False, True, False, True, False, None, None]
    assert result.warnings.to_pylist()[6] == "invalid_consent_terms"


def test_names_trimmed_folded_and_cut():
    long_name = "Олександра-Вікторія " * 3
    result = normalize_names(["  Ivan \t Petrenko ", long_name, "  ", None])
    values = result.values.to_pylist()
    assert values[0] == "Ivan Petrenko"
    assert len(values[1]) <= 40 and long_name.startswith(values[1])
    assert values[2:] == [None, None]
    assert result.warnings.to_pylist() == [None, "name_truncated", None, None]


def test_groups_split_trimmed_deduped_in_order():
    result = split_groups(["VIP; Newsletter | vip,VIP", None, " ; , ", "b,a,b"])
    assert result.to_pylist() == [["VIP", "Newsletter", "vip"], None, None, ["b", "a"]]
