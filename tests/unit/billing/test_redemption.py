"""The pure rules of redemption codes: their alphabet and length, how input is read, and
which rate windows an attempt counts in."""

from __future__ import annotations

from relaygate.billing.redemption import (
    CODE_ALPHABET,
    CODE_LENGTH,
    RedeemLimits,
    format_code,
    new_code,
    normalise_code,
)


def test_codes_use_the_unambiguous_alphabet_and_differ() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert not set("01OIL") & set(CODE_ALPHABET)


def test_input_is_read_without_case_dashes_or_spaces() -> None:
    code = new_code()
    shown = format_code(code)
    assert shown.count("-") == 3 and shown.replace("-", "") == code
    assert normalise_code(shown.lower()) == code
    assert normalise_code(" ".join(shown.split("-"))) == code
    assert normalise_code(code[:-1]) is None
    assert normalise_code(code[:-1] + "0") is None  # 0 is never in a code


def test_attempts_count_per_user_and_per_ip_and_zero_turns_a_limit_off() -> None:
    hits = RedeemLimits(10, 50, 30).hits(7, "10.0.0.1")
    assert [(h.key, h.window_s, h.limit) for h in hits] == [
        ("redeem:user:7:m", 60, 10),
        ("redeem:user:7:h", 3600, 50),
        ("redeem:ip:10.0.0.1:m", 60, 30),
    ]
    assert [h.key for h in RedeemLimits(10, 0, 0).hits(7, None)] == ["redeem:user:7:m"]
