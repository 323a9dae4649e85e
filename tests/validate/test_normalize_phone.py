import random

import phonenumbers
import pytest

from contact_pipelines.core.normalize.phone import normalize_phones


@pytest.mark.parametrize(
    ("raw", "region", "expected", "phone_type"),
    [
        ("+380671234567", None, "+380671234567", "mobile"),
        ("067 123-45-67", "UA", "+380671234567", "mobile"),
        ("(067) 123 45 67", "ua", "+380671234567", "mobile"),
        ("00380671234567", None, "+380671234567", "mobile"),
        ("380671234567", "UA", "+380671234567", "mobile"),  # lost its "+"
        ("447911123456", "UA", "+447911123456", "mobile"),  # lost its "+", foreign
        ("447911123456", None, "+447911123456", "mobile"),
        ("380671234567.0", "UA", "+380671234567", "mobile"),  # went through a float column
        ("07911 123456", "GB", "+447911123456", "mobile"),
        ("+44 20 7946 0958", "UA", "+442079460958", "fixed_line"),
        ("0671234567", None, None, None),  # national form, no region to read it with
        ("12", "UA", None, None),
        ("not a phone", "UA", None, None),
        (None, "UA", None, None),
    ],
)
def test_phone_cases(raw, region, expected, phone_type):
    result = normalize_phones([raw], region)
    assert result.values.to_pylist() == [expected]
    assert result.phone_type.to_pylist() == [phone_type]
    assert result.warnings.to_pylist() == [
        "invalid_phone" if raw is not None and expected is None else None
    ]


def _plain_per_row(value: str, region: str) -> str | None:
    """The documented rules, written the obvious way: one phonenumbers call per row."""
    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    for candidate, candidate_region in ((text, region), ("+" + text, None)):
        if candidate_region is None and (
            text.startswith("+") or not text.replace(" ", "").isdigit()
        ):
            continue
        try:
            number = phonenumbers.parse(
                candidate.replace(" ", "") if candidate_region is None else candidate,
                candidate_region,
            )
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def _generated_numbers(rng: random.Random, count: int) -> list[str]:
    numbers = []
    for _ in range(count):
        country = rng.choice(["UA", "GB", "DE", "US", "PL", "ES", "FR"])
        example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
        national = str(example.national_number)
        digits = national[:-4] + "".join(rng.choice("0123456789") for _ in range(4))
        shape = rng.randrange(5)
        if shape == 0:
            numbers.append(f"+{example.country_code}{digits}")
        elif shape == 1:
            numbers.append(f"00{example.country_code} {digits}")
        elif shape == 2:
            numbers.append(f"{example.country_code}{digits}")
        elif shape == 3:
            numbers.append("0" + digits)
        else:
            numbers.append(digits[: rng.randint(1, len(digits))])
    return numbers


def test_vectorised_path_equals_plain_phonenumbers():
    rng = random.Random(11)
    numbers = _generated_numbers(rng, 3000)
    numbers += numbers[:500]  # repeats go through the per-unique cache
    got = normalize_phones(numbers, "UA").values.to_pylist()
    expected = [_plain_per_row(value, "UA") for value in numbers]
    assert got == expected
    assert sum(v is not None for v in got) > 1000  # the sample is not all invalid
