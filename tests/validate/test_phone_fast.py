"""The vectorised phone path gives exactly what phonenumbers gives, row for row."""

import random

import phonenumbers
import pyarrow as pa
import pytest
from phonenumbers import PhoneNumberType

from contact_pipelines.core.normalize.phone import normalize_phones, parse_phone
from contact_pipelines.core.normalize.phone_fast import fast_parse_phones

REGIONS = ("UA", "GB", "US", "CA", "DE", "RU", "KZ", "FR", "IT", "PL", "ES", "BR", "IN", "AR",
           "MX", "CN", "JP", "AU", "NL", "TR", "JE", "GG")  # fmt: skip


def _reference(value: str, region: str | None) -> tuple[str | None, str | None]:
    return parse_phone.__wrapped__(value.strip(), region)  # no cache: plain phonenumbers


def _random_phone(rng: random.Random) -> str:
    region = rng.choice(REGIONS)
    kind = rng.choice((PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE))
    example = phonenumbers.example_number_for_type(region, kind) or phonenumbers.example_number(
        region
    )
    digits = list(phonenumbers.national_significant_number(example))
    for _ in range(rng.randint(0, 4)):  # mutate: some stay valid, some do not
        digits[rng.randrange(len(digits))] = str(rng.randint(0, 9))
    if rng.random() < 0.1:
        digits.append(str(rng.randint(0, 9)))
    national, code = "".join(digits), example.country_code
    prefix = phonenumbers.PhoneMetadata.metadata_for_region(region).national_prefix or ""
    return rng.choice(
        (
            f"+{code}{national}",
            f"+{code} {national[:3]} {national[3:6]}-{national[6:]}",
            f"{prefix}{national}",
            f"({prefix}{national[:2]}) {national[2:5]}-{national[5:]}",
            f"{code}{national}",
            f"00{code}{national}",
            f"{code}{national}.0",
            f"+{code}0{national}",
            f"8{national}",
            f"tel: +{code} {national}",
            f"Tel {national}",
            f"{national} ext. 12",
            national,
        )
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_fast_path_is_identical_to_phonenumbers_on_random_numbers(seed):
    rng = random.Random(seed)
    values_by_region: dict = {}
    for _ in range(4000):
        region = rng.choice((*REGIONS, None))
        values_by_region.setdefault(region, set()).add(_random_phone(rng))
    decided_total = checked = 0
    for region, values in values_by_region.items():
        values = sorted(values)
        fast = fast_parse_phones(pa.array(values, pa.string()), region)
        e164, types = fast.e164.to_pylist(), fast.phone_type.to_pylist()
        for i, value in enumerate(values):
            checked += 1
            if fast.decided[i]:
                decided_total += 1
                assert (e164[i], types[i]) == _reference(value, region), (value, region)
    # the fast path must actually carry most of the plain shapes
    assert decided_total > checked * 0.6


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("+44 07712 345678", "GB"),  # national prefix after the country code
        ("07712 345678", "GB"),
        ("447712345678", "GB"),  # spreadsheet lost the +
        ("380671234567", "UA"),
        ("380671234567.0", "UA"),
        ("(067) 123-45-67", "UA"),
        ("12015550123", "US"),  # NANPA: prefix 1 is also the country code
        ("5062345678", "US"),  # a Canadian number from a US source
        ("+1 506 234 5678", "CA"),
        ("8 912 345 67 89", "RU"),
        ("8 7172 123456", "KZ"),
        ("+7 7172 123456", None),
        ("+39 02 1234 5678", "IT"),  # Italian leading zero is kept
        ("+39 312 345 6789", None),
        ("07797 123456", "JE"),
        ("+44 1481 123456", "GG"),
        ("0671234567", None),
        ("+800 1234 5678", None),  # non-geographic: left to phonenumbers
        ("011 44 7712 345678", "US"),  # US international prefix
        ("00 44 7712 345678", "UA"),
        ("+0 123 4567", "UA"),
        ("123", "UA"),
        ("tel: +44 7712 345678", None),
    ],
)
def test_fast_path_on_known_traps(raw, region):
    fast = fast_parse_phones(pa.array([raw]), region)
    if fast.decided[0]:
        got = (fast.e164[0].as_py(), fast.phone_type[0].as_py())
        assert got == _reference(raw, region)
    normalized = normalize_phones([raw], region)
    got = (normalized.values[0].as_py(), normalized.phone_type[0].as_py())
    assert got == _reference(raw, region)


def test_common_shapes_take_the_fast_path():
    values = ["+380 67 123 45 67", "0671234567", "(067) 123-45-68", "380671234569", "x"]
    fast = fast_parse_phones(pa.array(values), "UA")
    assert fast.decided.tolist() == [True, True, True, True, False]
    assert fast.e164.to_pylist()[:4] == [
        "+380671234567", "+380671234567", "+380671234568", "+380671234569"
    ]  # fmt: skip
    assert fast.phone_type.to_pylist()[0] == "mobile"


def test_phone_type_decides_sms_capability():
    result = normalize_phones(["+380671234567", "+380441234567", "+18005550123"], None)
    assert result.phone_type.to_pylist() == ["mobile", "fixed_line", "toll_free"]
