import random
import string

import pytest
from email_validator import EmailNotValidError, validate_email

from contact_pipelines.core.normalize.email import normalize_emails


@pytest.mark.parametrize(
    ("raw", "expected", "warning"),
    [
        (" Ivan.Petrenko@Gmail.COM ", "ivan.petrenko@gmail.com", None),
        ("ivan@пример.укр", "ivan@xn--e1afmkfd.xn--j1amh", None),
        ("Иван@Mail.ru", "иван@mail.ru", None),
        ("olena@gmial.com", "olena@gmial.com", "email_typo_domain"),
        ("info@shop.ua", "info@shop.ua", "email_role_account"),
        ("ivan@@mail", None, "invalid_email"),
        ("ivan@mail", None, "invalid_email"),
        ("a..b@mail.com", None, "invalid_email"),
        ("user@localhost", None, "invalid_email"),
        ("user@site.test", None, "invalid_email"),
        ("no-at-sign.com", None, "invalid_email"),
        (None, None, None),
        ("   ", None, None),
    ],
)
def test_email_cases(raw, expected, warning):
    result = normalize_emails([raw])
    assert result.values.to_pylist() == [expected]
    assert result.valid.to_pylist() == [expected is not None]
    assert result.warnings.to_pylist() == [warning]


def test_absent_is_not_invalid():
    result = normalize_emails([None, "", "bad"])
    assert result.invalid.to_pylist() == [False, False, True]


def _random_email(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + ".-_+!#@"
    local = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
    domain = "".join(rng.choice(string.ascii_lowercase + "-.") for _ in range(rng.randint(1, 12)))
    tld = rng.choice(["com", "ua", "c", "test", "xn--p1ai", "museum", "1a", ""])
    return f"{local}@{domain}.{tld}"


def test_fast_path_agrees_with_email_validator():
    rng = random.Random(7)
    emails = [_random_email(rng) for _ in range(5000)]
    result = normalize_emails(emails).values.to_pylist()
    for raw, got in zip(emails, result, strict=True):
        try:
            checked = validate_email(raw.strip().lower(), check_deliverability=False)
            expected = f"{checked.local_part}@{checked.ascii_domain}".lower()
        except EmailNotValidError:
            expected = None
        assert got == expected, raw
