"""Kubernetes ``resource.Quantity`` semantics in pure Python.

Exact arithmetic only: amounts are :class:`fractions.Fraction`, never floats.

The behaviour follows k8s.io/apimachinery/pkg/api/resource (quantity.go, suffix.go, amount.go,
math.go) and its quantity_test.go.  The parser re-implements the upstream hand-written scanner rather
than the documented regular expression, because the scanner decides which error is returned and it
accepts a few strings the regular expression would not (a bare suffix such as ``"k"`` parses as 0,
kubernetes/apimachinery#165).

Facts recorded here (all from the upstream sources):

* ``ParseQuantity`` rounds any non-zero value finer than 1n (10^-9) *away from zero* to the next nano.
* Only BinarySI values are capped at 2^63-1 in magnitude; DecimalSI/DecimalExponent are not
  (``"12E"`` stays 1.2e19).
* A BinarySI parse result with 0 < |v| < 1 switches to DecimalSI.
* ``Value()``/``MilliValue()``/``RoundUp()`` round away from zero (``-1500m`` has Value -2).
* ``String()`` returns the *input string* when the fast parse path judged it already canonical
  (``"+1"`` stays ``"+1"``, ``"1.500"`` stays ``"1.500"``); otherwise it canonicalizes.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple

__all__ = [
    "ERR_FORMAT_WRONG",
    "ERR_NUMERIC",
    "ERR_SUFFIX",
    "MAX_INT64",
    "Format",
    "Quantity",
    "QuantityError",
    "cpu_millicores",
    "memory_bytes",
    "parse_quantity",
]

# The three upstream error texts (quantity.go ErrFormatWrong / ErrNumeric / ErrSuffix).
SPLIT_RE_STRING = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = "quantities must match the regular expression '" + SPLIT_RE_STRING + "'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

MAX_INT64 = (1 << 63) - 1  # math.go maxAllowed: the BinarySI parse cap
_MAX_INT32 = (1 << 31) - 1  # newer suffix.go rejects exponents outside [-MaxInt32, MaxInt32]
_NANO = -9  # parse precision floor (Scale Nano)
_MAX_INT64_FACTORS = 18  # decimal digits the upstream int64 fast path accepts
# Not upstream: Python needs a bound before it materialises 10**exponent.  Values with more than this
# many integer digits are refused with ERR_NUMERIC (upstream keeps "1e2147483647" as a scaled int64).
_MAX_DIGITS = 1000


class QuantityError(ValueError):
    """A quantity string was refused; ``str(err)`` is the exact Kubernetes error text."""


class Format(enum.Enum):
    DECIMAL_SI = "DecimalSI"  # 12M = 12 * 10^6
    BINARY_SI = "BinarySI"  # 12Mi = 12 * 2^20
    DECIMAL_EXPONENT = "DecimalExponent"  # 12e6


# suffix.go: the lookup is case-sensitive; "K", "mi", "KB" are not suffixes.
_DECIMAL_SUFFIXES: dict[str, int] = dict(
    [("n", -9), ("u", -6), ("m", -3), ("", 0), ("k", 3), ("M", 6), ("G", 9), ("T", 12), ("P", 15), ("E", 18)]
)
_BINARY_SUFFIXES: dict[str, int] = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT = {exp: suf for suf, exp in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_POWER = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]  # index = power of 1024

_DIGITS = frozenset("0123456789")
_SUFFIX_LETTERS = frozenset("eEinumkKMGTP")  # the scanner's suffix alphabet
_EXPONENT_RE = re.compile(r"[+-]?[0-9]{1,12}")  # strconv.ParseInt input; longer is out of int32 anyway


class _Scan(NamedTuple):
    positive: bool
    num: str  # integer digits without leading zeros, "0" when none
    denom: str  # fraction digits as written
    suffix: str
    has_digits: bool  # whether the numeric text contains any digit at all


def _scan(text: str) -> _Scan:
    """Split ``text`` the way quantity.go parseQuantityString does, raising its format error."""
    end = len(text)
    pos = 0
    positive = True
    if end and text[0] in "+-":
        positive = text[0] == "+"
        pos = 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos == end:  # only a sign and/or zeros: upstream returns 0 right away
        return _Scan(positive, "0", "", "", True)
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos] or "0"
    denom = ""
    if pos < end and text[pos] == ".":  # "1." and "1.G" are accepted (upstream TODO)
        pos += 1
        dstart = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[dstart:pos]
    has_digits = any(ch in _DIGITS for ch in text[:pos])
    sstart = pos
    while pos < end and text[pos] in _SUFFIX_LETTERS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos != end:
        raise QuantityError(ERR_FORMAT_WRONG)
    return _Scan(positive, num, denom, text[sstart:], has_digits)


def _interpret(suffix: str) -> tuple[int, int, Format]:
    """suffix.go interpret: (base, exponent, format) or the suffix error."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], Format.DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], Format.BINARY_SI
    # "E" alone is exa (matched above); "e"/"E" followed by a signed integer is an exponent.
    if len(suffix) > 1 and suffix[0] in "eE" and _EXPONENT_RE.fullmatch(suffix[1:]):
        exponent = int(suffix[1:])
        if -_MAX_INT32 <= exponent <= _MAX_INT32:
            return 10, exponent, Format.DECIMAL_EXPONENT
    raise QuantityError(ERR_SUFFIX)


def _ceil_div_away(n: int, d: int) -> int:
    """n / d rounded away from zero (d > 0)."""
    q, r = divmod(abs(n), d)
    if r:
        q += 1
    return q if n >= 0 else -q


def _round_away(amount: Fraction, scale: int) -> Fraction:
    """Round to a multiple of 10**scale, away from zero (inf.RoundUp / negativeScaleInt64)."""
    unit = Fraction(10) ** scale
    steps = amount / unit
    if steps.denominator == 1:
        return amount
    return _ceil_div_away(steps.numerator, steps.denominator) * unit


def _round_to_nano(n: int, scale: int) -> Fraction:
    """Exact value of n * 10**scale for scale < -9, rounded away from zero to nano (ParseQuantity)."""
    k = _NANO - scale  # > 0 digits to drop
    if n == 0:
        return Fraction(0)
    if len(str(abs(n))) <= k:  # |n| < 10**k: anything non-zero becomes 1n
        return Fraction(1 if n > 0 else -1, 10**9)
    return Fraction(_ceil_div_away(n, 10**k), 10**9)


def _parse_text(text: str) -> Quantity:
    if not text:
        raise QuantityError(ERR_FORMAT_WRONG)
    if text == "0":
        return Quantity(Fraction(0), Format.DECIMAL_SI, _source=text)
    scan = _scan(text)
    base, exponent, fmt = _interpret(scan.suffix)

    # Upstream has an int64 fast path and an inf.Dec slow path.  Both give the same value; the path
    # only matters for (a) ErrNumeric, which the slow path returns when the number has no digit at
    # all ("e-10", "Pi"), and (b) whether the input string is kept as the String() form.
    if fmt is Format.BINARY_SI:
        fast = not scan.denom and 15 - len(scan.num) - (exponent * 3) // 10 - 1 >= 0
        fast = fast and (int(scan.num) << exponent) <= MAX_INT64
        scale = 0
    else:
        scale = exponent - len(scan.denom)
        fast = len(scan.num) + len(scan.denom) <= _MAX_INT64_FACTORS and scale >= _NANO
    if not fast and not scan.has_digits:
        raise QuantityError(ERR_NUMERIC)

    digits = scan.num + scan.denom
    if len(digits) > _MAX_DIGITS:
        raise QuantityError(ERR_NUMERIC)
    n = int(digits)
    if not scan.positive:
        n = -n
    if base == 2:
        amount = _round_away(Fraction(n << exponent, 10 ** len(scan.denom)), _NANO)
        if abs(amount) > MAX_INT64:  # BinarySI only: "9Ei" -> 9223372036854775807
            amount = Fraction(MAX_INT64 if n > 0 else -MAX_INT64)
        if 0 < abs(amount) < 1:  # "This avoids rounding and hopefully confusion, too."
            fmt = Format.DECIMAL_SI
    elif scale >= _NANO:
        if n and len(str(abs(n))) + scale > _MAX_DIGITS:
            raise QuantityError(ERR_NUMERIC)
        amount = n * Fraction(10) ** scale
    else:
        amount = _round_to_nano(n, scale)

    source: str | None = None
    if fast:
        if fmt is Format.BINARY_SI:
            if int(scan.num) & 0x07:  # upstream: exponent%10 == 0 && value&0x07 != 0
                source = text
        elif scale % 3 == 0 and not digits.endswith("000") and digits[0] != "0":
            source = text
    return Quantity(amount, fmt, _source=source)


def _decimal_parts(amount: Fraction) -> tuple[int, int]:
    """Mantissa and base-10 exponent (a multiple of 3) of a non-zero amount (AsCanonicalBytes)."""
    den = amount.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den != 1:  # not a finite decimal; unreachable from parse, round like ParseQuantity does
        return _decimal_parts(_round_away(amount, _NANO))
    shift = max(twos, fives)
    mantissa = int(amount * 10**shift)
    exponent = -shift
    while mantissa % 10 == 0:  # move every factor of ten into the exponent
        mantissa //= 10
        exponent += 1
    adjust = exponent % 3  # then lower the exponent to a multiple of 3
    return mantissa * 10**adjust, exponent - adjust


def _exponent_form(mantissa: int, exponent: int) -> str:
    return str(mantissa) if exponent == 0 else f"{mantissa}e{exponent}"


def _canonicalize(amount: Fraction, fmt: Format) -> str:
    """quantity.go CanonicalizeBytes: the canonical string for an amount in a format."""
    if amount == 0:
        return "0"
    if fmt is Format.BINARY_SI:
        if -1024 < amount < 1024 or amount.denominator != 1:
            fmt = Format.DECIMAL_SI  # small or fractional BinarySI values print as DecimalSI
        else:
            mantissa, power = int(amount), 0
            while mantissa % 1024 == 0:
                mantissa //= 1024
                power += 1
            if power < len(_BINARY_BY_POWER):
                return f"{mantissa}{_BINARY_BY_POWER[power]}"
            # Past "Ei" there is no suffix: newer upstream falls back to exponent notation
            # (2^70 -> "1180591620717411303424", 10^70 -> "10e69"); older releases dropped it.
            return _exponent_form(*_decimal_parts(amount))
    mantissa, exponent = _decimal_parts(amount)
    if fmt is Format.DECIMAL_SI and exponent in _DECIMAL_BY_EXPONENT:
        return f"{mantissa}{_DECIMAL_BY_EXPONENT[exponent]}"
    # DecimalExponent, or DecimalSI outside n..E ("1000E" -> "1e21" in newer upstream).
    return _exponent_form(mantissa, exponent)


def _source_scale(text: str) -> int:
    """Base-10 scale of the int64 amount upstream stored for a fast-path parse of ``text``."""
    if text == "0":
        return 0
    scan = _scan(text)
    _, exponent, fmt = _interpret(scan.suffix)
    return 0 if fmt is Format.BINARY_SI else exponent - len(scan.denom)


@dataclass(frozen=True, eq=False)
class Quantity:
    """An exact resource amount (cores or bytes) plus the format it serializes in.

    Equality, ordering and hashing use the amount only: ``parse("1") == parse("1000m")``.
    """

    amount: Fraction
    format: Format = Format.DECIMAL_SI
    # The parsed input when upstream keeps it as the String() form; set by parse() only.
    _source: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        amount: object = self.amount
        if isinstance(amount, bool) or not isinstance(amount, int | Fraction):
            raise TypeError(f"Quantity amount must be int or Fraction, not {type(amount).__name__}")
        if not isinstance(amount, Fraction):
            object.__setattr__(self, "amount", Fraction(amount))
        if not isinstance(self.format, Format):
            object.__setattr__(self, "format", Format(self.format))

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str | int | float) -> Quantity:
        """ParseQuantity.  ints/floats are parsed as ``str(int)`` / ``repr(float)``."""
        if isinstance(text, bool):
            raise QuantityError(ERR_FORMAT_WRONG)
        if isinstance(text, float):
            if text != text or text in (float("inf"), float("-inf")):
                raise QuantityError(ERR_FORMAT_WRONG)
            return _parse_text(repr(text))
        if isinstance(text, int):
            return _parse_text(str(text))
        if isinstance(text, str):
            return _parse_text(text)
        raise TypeError(f"cannot parse a quantity from {type(text).__name__}")

    @classmethod
    def unmarshal(cls, value: str | int | float | None) -> Quantity:
        """UnmarshalJSON: like parse, but surrounding whitespace is trimmed and null is zero."""
        if value is None:
            return cls(Fraction(0), Format.DECIMAL_SI)
        if isinstance(value, str):
            return cls.parse(value.strip())
        return cls.parse(value)

    @classmethod
    def from_milli(cls, milli: int, fmt: Format = Format.DECIMAL_SI) -> Quantity:
        """NewMilliQuantity: milli/1000 in the given format."""
        return cls(Fraction(milli, 1000), fmt)

    @classmethod
    def from_int(cls, value: int, fmt: Format = Format.DECIMAL_SI) -> Quantity:
        """NewQuantity: an integer amount in the given format."""
        return cls(Fraction(value), fmt)

    @classmethod
    def from_scaled(cls, value: int, scale: int) -> Quantity:
        """NewScaledQuantity: value * 10**scale, DecimalSI."""
        return cls(value * Fraction(10) ** scale, Format.DECIMAL_SI)

    # ---- accessors ----------------------------------------------------------------------------

    def scaled_value(self, scale: int) -> int:
        """ScaledValue: amount / 10**scale rounded away from zero (exact, no int64 saturation)."""
        return int(_round_away(self.amount / Fraction(10) ** scale, 0))

    def milli_value(self) -> int:
        """MilliValue, e.g. CPU millicores: ``0.0005`` -> 1, ``-0.0005`` -> -1."""
        return self.scaled_value(-3)

    def value(self) -> int:
        """Value, e.g. memory bytes: ``1500m`` -> 2."""
        return self.scaled_value(0)

    def is_zero(self) -> bool:
        return self.amount == 0

    def sign(self) -> int:
        return (self.amount > 0) - (self.amount < 0)

    def round_up(self, scale: int = -3) -> Quantity:
        """RoundUp: round away from zero to a multiple of 10**scale; the format is kept.

        API defaulting rounds every container resource to milli (``0.1m`` -> ``1m``).
        """
        if self._source is not None and _source_scale(self._source) >= scale:
            return self  # upstream leaves such a quantity, and its cached string, untouched
        return Quantity(_round_away(self.amount, scale), self.format)

    def canonical(self) -> str:
        """String()/MarshalJSON: the kept input string if upstream keeps it, else normalized()."""
        if self._source is not None:
            return self._source
        return _canonicalize(self.amount, self.format)

    def normalized(self) -> str:
        """CanonicalizeBytes: the canonical form computed from amount and format alone."""
        return _canonicalize(self.amount, self.format)

    def __str__(self) -> str:
        return self.canonical()

    def __repr__(self) -> str:
        return f"Quantity({self.canonical()!r}, {self.format.value})"

    # ---- arithmetic (results never keep an input string) --------------------------------------

    def __add__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        # Add/Sub: a zero receiver takes the other operand's format.
        fmt = other.format if self.is_zero() else self.format
        return Quantity(self.amount + other.amount, fmt)

    def __radd__(self, other: int) -> Quantity:
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return self  # lets sum() start from 0
        return NotImplemented

    def __sub__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        fmt = other.format if self.is_zero() else self.format
        return Quantity(self.amount - other.amount, fmt)

    def __neg__(self) -> Quantity:
        return Quantity(-self.amount, self.format)

    def __mul__(self, factor: int) -> Quantity:
        """Mul(int64): the format is kept."""
        if isinstance(factor, bool) or not isinstance(factor, int):
            return NotImplemented
        return Quantity(self.amount * factor, self.format)

    __rmul__ = __mul__

    # ---- comparison by amount -----------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.amount == other.amount

    def __hash__(self) -> int:
        return hash(self.amount)

    def __lt__(self, other: Quantity) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.amount < other.amount

    def __le__(self, other: Quantity) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.amount <= other.amount

    def __gt__(self, other: Quantity) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.amount > other.amount

    def __ge__(self, other: Quantity) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.amount >= other.amount


def parse_quantity(text: str | int | float) -> Quantity:
    """Same as :meth:`Quantity.parse`."""
    return Quantity.parse(text)


def cpu_millicores(q: Quantity | str | int | float) -> int:
    """CPU in millicores (MilliValue), parsing ``q`` first if needed."""
    if not isinstance(q, Quantity):
        q = Quantity.parse(q)
    return q.milli_value()


def memory_bytes(q: Quantity | str | int | float) -> int:
    """Memory in bytes (Value, rounded up), parsing ``q`` first if needed."""
    if not isinstance(q, Quantity):
        q = Quantity.parse(q)
    return q.value()
