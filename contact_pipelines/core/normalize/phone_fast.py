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
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata
from phonenumbers.phonenumberutil import ValidationResult, _test_number_length

# only these characters besides digits: the library's parse drops them all (it starts
# reading at the first "+" or digit, so a "Tel: " or "(" before it is skipped too). Letters
# only before a "+": without one, parse_phone's retry as international needs pure digits.
_PLAIN_SHAPE = r"^(?:[A-Za-z:( ]*\+|\(?)[0-9][0-9 ().\-/]*$"
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
    "premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
    "voicemail",
)  # fmt: skip


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
    with_plus = _as_bool(pc.match_substring_regex(text, r"^[A-Za-z:( ]*\+")) & plain
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
        if COUNTRY_CODE_TO_REGION_CODE[int(code)][0] != _NON_GEO:
            _international_rest(digits, rows & (codes == code), int(code), outcome)
    return outcome


def _national(digits: pa.Array, rows: np.ndarray, region: str) -> _Outcome:
    """The library's reading of digits written in ``region`` without ``+``."""
    outcome = _empty_outcome(len(digits))
    rules = _rules(region) if region in phonenumbers.SUPPORTED_REGIONS else None
    if rules is None or not rows.any():
        return outcome
    lengths = pc.utf8_length(digits).to_numpy(zero_copy_only=False)
    rows = rows & (lengths >= 2) & (lengths <= _MAX_DIGITS + 3)
    rows &= ~_prefix_matches(digits, rules.international_prefix)
    rows &= ~_unhandled_prefix(digits, rules)
    with_code = _starts_with_own_country_code(digits, rows, rules, lengths)
    _international_rest(digits, with_code, rules.country_code, outcome)
    rows &= ~with_code
    national_number = _strip_national_prefix(digits, rows, rules)
    lengths = pc.utf8_length(national_number).to_numpy(zero_copy_only=False)
    rows &= (lengths >= 2) & (lengths <= _MAX_DIGITS)
    _classify(rules.country_code, national_number, rows, outcome)
    return outcome


def _starts_with_own_country_code(
    digits: pa.Array, rows: np.ndarray, rules: _Rules, lengths: np.ndarray
) -> np.ndarray:
    """The library's test for "380671234567" in UA: the region's code written without "+"."""
    code = str(rules.country_code)
    starts = rows & _as_bool(pc.starts_with(digits, code))
    if not starts.any():
        return starts
    rest = pc.utf8_slice_codeunits(digits, len(code))
    starts &= ~_unhandled_prefix(rest, rules)
    potential = _strip_national_prefix(rest, starts, rules, length_test=False)
    general = rules.general_pattern
    plausible = ~_full_match(digits, general) & _full_match(potential, general)
    return starts & (plausible | np.isin(lengths, rules.too_long_lengths))


def _international_rest(digits: pa.Array, rows: np.ndarray, code: int, outcome: _Outcome) -> None:
    """Rows known to start with calling code ``code``: read the rest as after a "+"."""
    if not rows.any():
        return
    main_rules = _rules(COUNTRY_CODE_TO_REGION_CODE[code][0])
    rest = pc.utf8_slice_codeunits(digits, len(str(code)))
    rows = rows & ~_unhandled_prefix(rest, main_rules)
    national_number = _strip_national_prefix(rest, rows, main_rules)
    lengths = pc.utf8_length(national_number).to_numpy(zero_copy_only=False)
    rows &= (lengths >= 2) & (lengths <= _MAX_DIGITS)
    _classify(code, national_number, rows, outcome)


def _strip_national_prefix(
    digits: pa.Array, rows: np.ndarray, rules: _Rules, length_test: bool = True
) -> pa.Array:
    """The library's _maybe_strip_national_prefix_carrier_code for literal prefixes.

    With ``length_test``, the stripped number is kept only if its length is possible
    (as parse() does); the caller has excluded rows a non-literal prefix matches.
    """
    result = digits
    pending = rows.copy()
    original_viable = _full_match(digits, rules.general_pattern)
    for prefix in rules.literal_national_prefixes:  # re.match takes the first alternative
        has_prefix = pending & _as_bool(pc.starts_with(digits, prefix))
        pending &= ~has_prefix
        rest = pc.utf8_slice_codeunits(digits, len(prefix))
        strip = has_prefix & ~(original_viable & ~_full_match(rest, rules.general_pattern))
        if length_test:
            rest_lengths = pc.utf8_length(rest).to_numpy(zero_copy_only=False)
            strip &= np.isin(rest_lengths, rules.strippable_lengths)
        result = pc.if_else(pa.array(strip), rest, result)
    return result


def _unhandled_prefix(digits: pa.Array, rules: _Rules) -> np.ndarray:
    """Rows whose national prefix is a pattern this module does not replay."""
    if rules.literal_national_prefixes:
        return np.zeros(len(digits), dtype=bool)
    return _prefix_matches(digits, rules.national_prefix)


def _classify(code: int, national: pa.Array, rows: np.ndarray, outcome: _Outcome) -> None:
    """Region, validity and type of ``+<code><national>`` where ``rows``; marks them decided."""
    where = np.flatnonzero(rows)
    if len(where) == 0:
        return
    subset = national.take(pa.array(where))
    number_types = np.full(len(subset), None, dtype=object)
    pending = np.ones(len(subset), dtype=bool)
    # the library's _region_code_for_number_from_list, then the type in that region
    regions = COUNTRY_CODE_TO_REGION_CODE[code]
    for region in regions:
        if not pending.any():
            break
        rules = _rules(region)
        candidates = np.flatnonzero(pending)
        candidate_numbers = subset.take(pa.array(candidates))
        found = _number_types(candidate_numbers, rules)
        if len(regions) == 1:
            in_region = np.ones(len(candidates), dtype=bool)  # the only region: no test
        elif rules.leading_digits is not None:
            in_region = _prefix_matches(candidate_numbers, rules.leading_digits)
        else:
            in_region = found != None  # noqa: E711
        number_types[candidates[in_region]] = found[in_region]
        pending[candidates[in_region]] = False
    valid = number_types != None  # noqa: E711
    valid_numbers = np.asarray(subset.filter(pa.array(valid)).to_pylist(), dtype=object)
    outcome.e164[where[valid]] = f"+{code}" + valid_numbers
    outcome.types[where] = number_types
    outcome.decided[where] = True
    outcome.valid[where[valid]] = True


def _number_types(national: pa.Array, rules: _Rules) -> np.ndarray:
    """The library's _number_type_helper: a type name per value, None for UNKNOWN."""
    result = np.full(len(national), None, dtype=object)
    pending = rules.matches("general_desc", national)
    for name in _SPECIAL_TYPES:  # the description and the type share a name
        hit = pending & rules.matches(name, national)
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
    # national_prefix_for_parsing when it is plain digits or an alternation of them ("0|180020")
    literal_national_prefixes: tuple[str, ...]
    general_pattern: str | None
    leading_digits: str | None
    same_mobile_and_fixed_line_pattern: bool
    strippable_lengths: tuple[int, ...]  # lengths the library keeps after stripping the prefix
    too_long_lengths: tuple[int, ...]  # lengths the library calls TOO_LONG
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
    alternatives = tuple((national_prefix or "").split("|"))
    literal = (
        alternatives
        if national_prefix
        and all(alternative.isdigit() for alternative in alternatives)
        and not metadata.national_prefix_transform_rule
        else ()
    )
    descs = {}
    for name in ("general_desc", "fixed_line", "mobile", *_SPECIAL_TYPES):
        desc = getattr(metadata, name)
        if desc is not None and desc.national_number_pattern:
            descs[name] = (tuple(desc.possible_length), desc.national_number_pattern)
    return _Rules(
        region=region,
        country_code=metadata.country_code,
        international_prefix=metadata.international_prefix or None,
        national_prefix=national_prefix,
        literal_national_prefixes=literal,
        general_pattern=metadata.general_desc.national_number_pattern or None,
        leading_digits=metadata.leading_digits,
        same_mobile_and_fixed_line_pattern=bool(metadata.same_mobile_and_fixed_line_pattern),
        strippable_lengths=tuple(
            length
            for length in range(1, _MAX_DIGITS + 1)
            if _test_number_length("1" * length, metadata) not in _KEEP_FULL_NUMBER
        ),
        too_long_lengths=tuple(
            length
            for length in range(1, _MAX_DIGITS + 4)
            if _test_number_length("1" * length, metadata) == ValidationResult.TOO_LONG
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
        numeric = pc.if_else(pc.equal(prefix, ""), "0", prefix)
        codes[hit] = pc.cast(numeric, pa.int64()).to_numpy(zero_copy_only=False)[hit]
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
