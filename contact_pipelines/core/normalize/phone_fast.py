"""A vectorised path through phonenumbers' own rules, for the common phone shapes.

``phonenumbers`` parses and validates about 25,000 numbers a second; a base of
millions of distinct numbers would spend minutes there. Most exports hold
phones in a few plain shapes (``+380 67 123 45 67``, ``0671234567``,
``(067) 123-45-67``), and for those the library's steps reduce to prefix
tests and full-match regexes taken from its own metadata (the same patterns,
RE2-compatible by design, that the C++ libphonenumber runs):

1. country code: the first 1..3 digits after ``+`` that name a calling code;
2. a national number without ``+``: strip the region's national prefix when
   the library would (a literal prefix such as ``0`` or ``8``, kept when the
   original matches the region's pattern and the rest does not, and only if
   the rest has a possible length, asked of the library per length);
3. the region of the number (``leading_digits`` or the first region whose
   patterns accept it) and the number type from the region's descriptions,
   in the library's order.

Whatever falls outside those shapes is left *undecided* and goes to
phonenumbers: an international prefix (``00``, ``810``, ``011``) in the
digits, a national number starting with the region's own calling code, a
national prefix that is a pattern rather than a literal, letters,
extensions, non-geographic codes, unusual lengths. Results are identical to
:func:`contact_pipelines.core.normalize.phone.parse_phone` by construction;
``tests/validate/test_phone_fast.py`` checks them against it on every case.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumberType
from phonenumbers.phonenumberutil import ValidationResult, _test_number_length

# only these characters besides digits: the library's parse drops them all
_PLAIN_SHAPE = r"^\+?[0-9][0-9 ().\-/]*$"
_FORMATTING = r"[ ().\-/]"
_FLOAT_TAIL = r"^(\d+)\.0+$"  # "380671234567.0": a phone that went through a float column
_MIN_DIGITS, _MAX_DIGITS = 5, 17
_NON_GEO = "001"
_KEEP_FULL_NUMBER = (
    ValidationResult.TOO_SHORT,
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ValidationResult.INVALID_LENGTH,
)
# the library's order in _number_type_helper, before fixed line and mobile
_SPECIAL_TYPES = (
    ("premium_rate", "premium_rate"),
    ("toll_free", "toll_free"),
    ("shared_cost", "shared_cost"),
    ("voip", "voip"),
    ("personal_number", "personal_number"),
    ("pager", "pager"),
    ("uan", "uan"),
    ("voicemail", "voicemail"),
)
_NULL_TEXT = pa.scalar(None, pa.string())


@dataclass(frozen=True)
class FastPhones:
    e164: pa.Array  # string, null where invalid or undecided
    phone_type: pa.Array  # string, null where invalid or undecided
    decided: np.ndarray  # bool: the value's result is final (valid or not)


def fast_parse_phones(values: pa.Array, region: str | None) -> FastPhones:
    """E.164 and type for plain-shaped values; the rest is marked undecided.

    ``values`` are cleaned (trimmed, non-null) strings, ideally unique.
    """
    text = pc.replace_substring_regex(values, _FLOAT_TAIL, r"\1")
    text = pc.replace_substring_regex(text, r"^00", "+")
    plain = _as_bool(pc.match_substring_regex(text, _PLAIN_SHAPE))
    digits = pc.replace_substring_regex(text, r"[^0-9]", "")
    with_plus = _as_bool(pc.starts_with(text, "+")) & plain
    n = len(values)
    e164 = np.full(n, None, dtype=object)
    types = np.full(n, None, dtype=object)
    decided = np.zeros(n, dtype=bool)

    international = _international(digits, with_plus)
    _store(international, with_plus, e164, types, decided)
    national = plain & ~with_plus
    if region is None:
        # the library refuses a national number without a region; parse_phone then reads
        # the digits as international (its rule 3)
        _store(_international(digits, national), national, e164, types, decided)
    else:
        _national_then_international(digits, national, region.upper(), e164, types, decided)
    return FastPhones(pa.array(e164, pa.string()), pa.array(types, pa.string()), decided)


def _national_then_international(
    digits: pa.Array,
    national: np.ndarray,
    region: str,
    e164: np.ndarray,
    types: np.ndarray,
    decided: np.ndarray,
) -> None:
    as_national = _national(digits, national, region)
    _store(as_national, national, e164, types, decided)
    # a decided-invalid national number is retried with "+" in front (parse_phone's rule 3)
    retry = national & as_national.decided & ~as_national.valid
    if retry.any():
        decided[retry] = False
        _store(_international(digits, retry), retry, e164, types, decided)


@dataclass(frozen=True)
class _Outcome:
    e164: np.ndarray  # object
    types: np.ndarray  # object
    decided: np.ndarray  # bool
    valid: np.ndarray  # bool


def _store(
    outcome: _Outcome, rows: np.ndarray, e164: np.ndarray, types: np.ndarray, decided: np.ndarray
) -> None:
    take = rows & outcome.decided
    e164[take] = outcome.e164[take]
    types[take] = outcome.types[take]
    decided[take] = True


def _empty_outcome(n: int) -> _Outcome:
    return _Outcome(
        np.full(n, None, dtype=object),
        np.full(n, None, dtype=object),
        np.zeros(n, dtype=bool),
        np.zeros(n, dtype=bool),
    )


def _international(digits: pa.Array, rows: np.ndarray) -> _Outcome:
    """The library's reading of ``+<digits>``."""
    outcome = _empty_outcome(len(digits))
    if not rows.any():
        return outcome
    lengths = pc.utf8_length(digits).to_numpy(zero_copy_only=False)
    rows = rows & (lengths >= _MIN_DIGITS) & (lengths <= _MAX_DIGITS + 3)
    codes = _country_codes(digits)
    for code in np.unique(codes[rows & (codes > 0)]):
        in_code = rows & (codes == code)
        main_region = COUNTRY_CODE_TO_REGION_CODE[int(code)][0]
        if main_region == _NON_GEO:
            continue
        rest = pc.utf8_slice_codeunits(digits, len(str(code)))
        in_code &= ~_prefix_matches(rest, _rules(main_region).national_prefix)
        _classify(int(code), rest, in_code, outcome)
    return outcome


def _national(digits: pa.Array, rows: np.ndarray, region: str) -> _Outcome:
    """The library's reading of a national number written in ``region``."""
    outcome = _empty_outcome(len(digits))
    rules = _rules(region) if region in phonenumbers.SUPPORTED_REGIONS else None
    if rules is None or not rows.any():
        return outcome
    rows = rows & ~_prefix_matches(digits, rules.international_prefix)
    rows &= ~_as_bool(pc.starts_with(digits, str(rules.country_code)))
    if rules.national_prefix and not rules.literal_national_prefix:
        rows &= ~_prefix_matches(digits, rules.national_prefix)
    national_number = _strip_national_prefix(digits, rows, rules)
    lengths = pc.utf8_length(national_number).to_numpy(zero_copy_only=False)
    rows &= (lengths >= 2) & (lengths <= _MAX_DIGITS)
    _classify(rules.country_code, national_number, rows, outcome)
    return outcome


def _strip_national_prefix(digits: pa.Array, rows: np.ndarray, rules: _Rules) -> pa.Array:
    """The library's _maybe_strip_national_prefix_carrier_code and length test, literal prefix."""
    prefix = rules.literal_national_prefix
    if not prefix:
        return digits
    rest = pc.utf8_slice_codeunits(digits, len(prefix))
    has_prefix = _as_bool(pc.starts_with(digits, prefix)) & rows
    original_viable = _full_match(digits, rules.general_pattern)
    rest_viable = _full_match(rest, rules.general_pattern)
    strip = has_prefix & ~(original_viable & ~rest_viable)
    rest_lengths = pc.utf8_length(rest).to_numpy(zero_copy_only=False)
    strip &= np.isin(rest_lengths, rules.strippable_lengths)
    return pc.if_else(pa.array(strip), rest, digits)


def _classify(code: int, national: pa.Array, rows: np.ndarray, outcome: _Outcome) -> None:
    """Region, validity and type of ``+<code><national>`` where ``rows``; marks them decided."""
    regions = COUNTRY_CODE_TO_REGION_CODE[code]
    region_of = np.full(len(national), None, dtype=object)
    pending = rows.copy()
    for region in regions:
        if not pending.any():
            break
        rules = _rules(region)
        if rules.leading_digits is not None:
            hit = pending & _prefix_matches(national, rules.leading_digits)
        else:
            hit = pending & (_number_types(national, pending, rules) != None)  # noqa: E711
        region_of[hit] = region
        pending &= ~hit
    number_types = np.full(len(national), None, dtype=object)
    for region in regions:
        in_region = rows & (region_of == region)
        if in_region.any():
            number_types[in_region] = _number_types(national, in_region, _rules(region))[in_region]
    valid = rows & (number_types != None)  # noqa: E711
    national_text = np.asarray(national.to_pylist(), dtype=object)
    outcome.e164[valid] = f"+{code}" + national_text[valid]
    outcome.types[valid] = number_types[valid]
    outcome.decided[rows] = True
    outcome.valid[valid] = True


def _number_types(national: pa.Array, rows: np.ndarray, rules: _Rules) -> np.ndarray:
    """The library's _number_type_helper: a type name per row, None for UNKNOWN."""
    result = np.full(len(national), None, dtype=object)
    pending = rows & rules.matches("general_desc", national)
    for desc, name in _SPECIAL_TYPES:
        hit = pending & rules.matches(desc, national)
        result[hit] = name
        pending &= ~hit
    fixed = pending & rules.matches("fixed_line", national)
    mobile = pending & rules.matches("mobile", national)
    if rules.same_mobile_and_fixed_line_pattern:
        result[fixed] = "fixed_line_or_mobile"
    else:
        result[fixed & mobile] = "fixed_line_or_mobile"
        result[fixed & ~mobile] = "fixed_line"
        result[mobile & ~fixed] = "mobile"
    return result


@dataclass(frozen=True)
class _Rules:
    """One region's metadata, in the shape the vectorised steps need."""

    region: str
    country_code: int
    international_prefix: str | None
    national_prefix: str | None
    literal_national_prefix: str | None  # national_prefix_for_parsing when it is plain digits
    general_pattern: str | None
    leading_digits: str | None
    same_mobile_and_fixed_line_pattern: bool
    strippable_lengths: tuple[int, ...]  # lengths the library keeps after stripping the prefix
    descs: dict  # name -> (possible lengths, pattern or None)

    def matches(self, desc: str, national: pa.Array) -> np.ndarray:
        """The library's _is_number_matching_desc."""
        lengths_allowed, pattern = self.descs.get(desc, ((), None))
        if pattern is None:
            return np.zeros(len(national), dtype=bool)
        hit = _full_match(national, pattern)
        if lengths_allowed:
            lengths = pc.utf8_length(national).to_numpy(zero_copy_only=False)
            hit &= np.isin(lengths, lengths_allowed)
        return hit


@cache
def _rules(region: str) -> _Rules:
    metadata = PhoneMetadata.metadata_for_region(region)
    national_prefix = metadata.national_prefix_for_parsing or None
    literal = (
        national_prefix
        if national_prefix
        and national_prefix.isdigit()
        and not metadata.national_prefix_transform_rule
        else None
    )
    descs = {}
    for name in ("general_desc", "fixed_line", "mobile", *(d for d, _ in _SPECIAL_TYPES)):
        desc = getattr(metadata, name)
        if desc is not None and desc.national_number_pattern:
            descs[name] = (tuple(desc.possible_length), desc.national_number_pattern)
    return _Rules(
        region=region,
        country_code=metadata.country_code,
        international_prefix=metadata.international_prefix or None,
        national_prefix=national_prefix,
        literal_national_prefix=literal,
        general_pattern=metadata.general_desc.national_number_pattern or None,
        leading_digits=metadata.leading_digits,
        same_mobile_and_fixed_line_pattern=bool(metadata.same_mobile_and_fixed_line_pattern),
        strippable_lengths=tuple(
            length
            for length in range(1, _MAX_DIGITS + 1)
            if _test_number_length("1" * length, metadata) not in _KEEP_FULL_NUMBER
        ),
        descs=descs,
    )


def _country_codes(digits: pa.Array) -> np.ndarray:
    """The library's _extract_country_code: the shortest known 1..3-digit prefix, else 0."""
    codes = np.zeros(len(digits), dtype=np.int64)
    starts_with_zero = _as_bool(pc.starts_with(digits, "0"))
    for size in (3, 2, 1):  # shortest wins, so it is written last
        prefix = pc.utf8_slice_codeunits(digits, 0, size)
        known = pa.array(sorted(str(code) for code in COUNTRY_CODE_TO_REGION_CODE))
        hit = _as_bool(pc.is_in(prefix, known)) & (
            pc.utf8_length(digits).to_numpy(zero_copy_only=False) >= size
        )
        codes[hit] = pc.cast(prefix, pa.int64(), safe=False).to_numpy(zero_copy_only=False)[hit]
    codes[starts_with_zero] = 0
    return codes


def _prefix_matches(values: pa.Array, pattern: str | None) -> np.ndarray:
    """Python's ``re.match`` (anchored at the start only), per value."""
    if not pattern:
        return np.zeros(len(values), dtype=bool)
    return _as_bool(pc.match_substring_regex(values, f"^(?:{pattern})"))


def _full_match(values: pa.Array, pattern: str | None) -> np.ndarray:
    if not pattern:
        return np.zeros(len(values), dtype=bool)
    return _as_bool(pc.match_substring_regex(values, f"^(?:{pattern})$"))


def _as_bool(mask: pa.Array) -> np.ndarray:
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
