"""Core helpers: money (property tests), integer and text input, images, errors, clock."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from jishi.core import clock
from jishi.core.errors import CoreError, DomainError, Forbidden, Locked, NotFound, field_error
from jishi.core.images import IMAGE_BYTES_MAX, image_check
from jishi.core.invariants import InvariantViolation, invariant
from jishi.core.money import AMOUNT_FEN_MAX, Money, format_fen, parse_yuan
from jishi.core.validation import clean_int, clean_text
from jishi.core.web import form_errors

# --- money ------------------------------------------------------------------------------------

fen = st.integers(min_value=0, max_value=AMOUNT_FEN_MAX * 100)


@given(fen)
def test_parse_yuan_round_trips_format_fen(n):
    assert parse_yuan(format_fen(n).replace(",", "")) == n


@given(fen)
def test_parse_yuan_accepts_thousands_separators(n):
    assert parse_yuan(format_fen(n)) == n


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=99))
def test_parse_yuan_short_fractions(whole, cents):
    assert parse_yuan(f"{whole}.{cents:02d}") == whole * 100 + cents
    if cents % 10 == 0:
        assert parse_yuan(f"{whole}.{cents // 10}") == whole * 100 + cents
    if cents == 0:
        assert parse_yuan(str(whole)) == whole * 100
        assert parse_yuan(f" {whole} ") == whole * 100


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=999))
def test_parse_yuan_rejects_three_decimals(whole, milli):
    with pytest.raises(ValueError):
        parse_yuan(f"{whole}.{milli:03d}")


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda x: f"{x:.3f}"))
def test_parse_yuan_rejects_floats_with_three_decimals(text):
    with pytest.raises(ValueError):
        parse_yuan(text)


@given(fen, st.sampled_from(["-", "+"]))
def test_parse_yuan_rejects_signs(n, sign):
    with pytest.raises(ValueError):
        parse_yuan(sign + format_fen(n))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        ".",
        ".5",
        "1.2.3",
        "1e3",
        "¥12",
        "12 元",
        "abc",
        "1.-5",
        "1. 5",
        "nan",
        "inf",
        "0x10",
    ],
)
def test_parse_yuan_rejects_junk(text):
    with pytest.raises(ValueError):
        parse_yuan(text)


@given(st.text(max_size=30))
def test_parse_yuan_raises_only_value_error(text):
    try:
        result = parse_yuan(text)
    except ValueError:
        return
    assert isinstance(result, int) and result >= 0


def test_parse_yuan_examples():
    assert parse_yuan("12.5") == 1250
    assert parse_yuan("0.01") == 1
    assert parse_yuan("1,234.56") == 123456
    assert format_fen(123456) == "1,234.56"
    assert format_fen(-5) == "-0.05"
    assert format_fen(0) == "0.00"


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.integers(min_value=-(10**12), max_value=10**12),
)
def test_money_arithmetic_is_exact(a, b):
    assert (Money(a) + Money(b)).fen == a + b
    assert (Money(a) - Money(b)).fen == a - b
    assert (Money(a) * 3).fen == a * 3
    assert str(Money(a)) == format_fen(a)


@pytest.mark.parametrize("value", [1.5, 1.0, True, "100", None])
def test_money_refuses_non_integers(value):
    with pytest.raises(TypeError):
        Money(value)


# --- clean_int --------------------------------------------------------------------------------

bounds = st.tuples(st.integers(-(10**12), 10**12), st.integers(0, 10**12)).map(
    lambda t: (t[0], t[0] + t[1])
)


@given(bounds, st.data())
def test_clean_int_accepts_ints_in_range(lo_hi, data):
    lo, hi = lo_hi
    n = data.draw(st.integers(lo, hi))
    assert clean_int(n, field="n", minimum=lo, maximum=hi) == n
    assert clean_int(str(n), field="n", minimum=lo, maximum=hi) == n
    assert clean_int(f" {n} ", field="n", minimum=lo, maximum=hi) == n


@given(bounds, st.integers(1, 10**6), st.booleans())
def test_clean_int_refuses_out_of_range(lo_hi, distance, above):
    lo, hi = lo_hi
    n = hi + distance if above else lo - distance
    with pytest.raises(DomainError) as exc:
        clean_int(n, field="n", minimum=lo, maximum=hi)
    assert exc.value.code == CoreError.OUT_OF_RANGE
    assert exc.value.extra["fields"].keys() == {"n"}


@given(st.booleans())
def test_clean_int_refuses_bools(value):
    with pytest.raises(DomainError) as exc:
        clean_int(value, field="n", minimum=-10, maximum=10)
    assert exc.value.code == CoreError.NOT_AN_INTEGER


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_clean_int_refuses_floats(value):
    with pytest.raises(DomainError) as exc:
        clean_int(value, field="n", minimum=-(10**20), maximum=10**20)
    assert exc.value.code == CoreError.NOT_AN_INTEGER


@given(st.integers(-(10**6), 10**6))
def test_clean_int_refuses_decimal_strings(n):
    for text in (f"{n}.0", f"{n}.5", f"{n}e0", f"{n}.", f"{n}_0"):
        with pytest.raises(DomainError) as exc:
            clean_int(text, field="n", minimum=-(10**9), maximum=10**9)
        assert exc.value.code == CoreError.NOT_AN_INTEGER


@pytest.mark.parametrize(
    "value", ["1.0", "", " ", "abc", "--5", "-", "+-1", "²", "1 2", None, [1], {"n": 1}, b"1"]
)
def test_clean_int_refuses_junk(value):
    with pytest.raises(DomainError) as exc:
        clean_int(value, field="n", minimum=-100, maximum=100)
    assert exc.value.code == CoreError.NOT_AN_INTEGER


@given(st.text(max_size=40))
def test_clean_int_only_raises_domain_errors(text):
    try:
        result = clean_int(text, field="n", minimum=-(10**30), maximum=10**30)
    except DomainError:
        return
    assert isinstance(result, int)


def test_clean_int_huge_digit_string_is_refused_not_crashing():
    with pytest.raises(DomainError):
        clean_int("9" * 5000, field="n", minimum=0, maximum=10)


# --- clean_text -------------------------------------------------------------------------------


def test_clean_text():
    assert clean_text("  安吉白茶 ", field="t", max_length=4) == "安吉白茶"
    assert clean_text(None, field="t", max_length=4, required=False) == ""
    with pytest.raises(DomainError) as exc:
        clean_text(" ", field="t", max_length=4)
    assert exc.value.code == CoreError.FIELD_REQUIRED
    with pytest.raises(DomainError) as exc:
        clean_text("安吉白茶好", field="t", max_length=4)
    assert exc.value.code == CoreError.TEXT_TOO_LONG
    assert exc.value.extra["fields"].keys() == {"t"}


# --- errors, invariants, clock ----------------------------------------------------------------


def test_error_status_codes_and_shape():
    assert DomainError("x").status_code == 400
    assert NotFound().status_code == 404
    assert Forbidden().status_code == 403
    assert Locked("pin_locked", "locked").status_code == 423
    error = field_error("title", "Too long", CoreError.TEXT_TOO_LONG)
    assert error.as_dict() == {
        "code": "text_too_long",
        "message": "Too long",
        "extra": {"fields": {"title": "Too long"}},
    }
    assert form_errors(error) == {"title": "Too long"}
    assert form_errors(DomainError("x", "Nope")) == {"__all__": "Nope"}


def test_invariant_raises_even_without_asserts():
    invariant(True, "fine")
    with pytest.raises(InvariantViolation):
        invariant(False, "broken")


def test_clock_advance_and_reset():
    before = clock.now()
    clock.advance(timedelta(hours=5))
    assert clock.now() - before >= timedelta(hours=5)
    clock.reset()
    assert clock.now() - before < timedelta(hours=1)


# --- images -----------------------------------------------------------------------------------


def png_bytes(size=(4, 3), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(("fmt", "ext"), [("PNG", "png"), ("JPEG", "jpg"), ("GIF", "gif")])
def test_image_check_accepts_small_images(fmt, ext):
    upload = SimpleUploadedFile(f"a.{ext}", png_bytes(fmt=fmt))
    assert image_check(upload) == ext
    assert upload.read(4)  # rewound for the caller to save


@pytest.mark.parametrize("content", [b"hello, I am not an image", b"", b"\x89PNG\r\n\x1a\nbroken"])
def test_image_check_rejects_non_images(content):
    with pytest.raises(DomainError) as exc:
        image_check(SimpleUploadedFile("photo.png", content), field="logo")
    assert exc.value.code == "image_invalid"
    assert exc.value.extra["fields"].keys() == {"logo"}


def test_image_check_rejects_over_five_megabytes():
    content = png_bytes() + b"\0" * IMAGE_BYTES_MAX
    with pytest.raises(DomainError) as exc:
        image_check(SimpleUploadedFile("big.png", content))
    assert exc.value.code == "image_too_large"


def test_image_check_rejects_huge_dimensions():
    content = png_bytes(size=(6001, 1))
    with pytest.raises(DomainError) as exc:
        image_check(SimpleUploadedFile("wide.png", content))
    assert exc.value.code == "image_too_large"


def test_image_check_rejects_unsupported_format():
    content = png_bytes(fmt="BMP")
    with pytest.raises(DomainError) as exc:
        image_check(SimpleUploadedFile("a.bmp", content))
    assert exc.value.code == "image_invalid"
