"""The keys page's form reader (web/key_form.py): every field checked, errors per field,
what a person typed kept, an unchanged expiry kept exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime

from relaygate.accounts.models import ApiKey
from relaygate.web.key_form import (
    BAD_AMOUNT,
    BAD_DATE,
    BAD_LIMIT,
    NO_MODEL,
    PAST_DATE,
    UNKNOWN_MODEL,
    KeyForm,
    KeyInput,
    key_status,
    read_key_form,
)

TODAY = date(2026, 12, 7)
OFFERED = ["gpt-4o", "relaygate-echo"]


def _read(
    form: dict[str, str], chosen: list[str] | None = None, current: ApiKey | None = None
) -> tuple[KeyInput | None, KeyForm]:
    return read_key_form(form, chosen or [], OFFERED, today=TODAY, current=current)


def test_a_full_form_becomes_the_services_arguments() -> None:
    fields, shown = _read(
        {
            "remark": " server ",
            "scope": "some",
            "expires": "2027-01-31",
            "max_fee": "2.5",
            "rpm_limit": "60",
            "tpm_limit": "",
            "concurrency_limit": "3",
        },
        ["relaygate-echo", "gpt-4o", "gpt-4o"],
    )
    assert not shown.errors and fields is not None
    assert fields.fields() == {
        "remark": "server",
        "permissions": ["gpt-4o", "relaygate-echo"],
        "expired_at": datetime(2027, 1, 31, tzinfo=UTC),
        "max_fee": 2_500_000,
        "rpm_limit": 60,
        "tpm_limit": None,
        "concurrency_limit": 3,
    }


def test_every_model_empty_cap_and_no_expiry_are_the_defaults() -> None:
    fields, _ = _read({"scope": "all", "max_fee": ""}, ["gpt-4o"])
    assert fields is not None
    assert (fields.permissions, fields.expired_at, fields.max_fee) == (None, None, 0)


def test_each_bad_field_has_its_own_error_and_the_typed_values_stay() -> None:
    typed = {
        "scope": "some",
        "expires": "2026-12-07",
        "max_fee": "0.0000001",
        "rpm_limit": "0",
        "tpm_limit": "2147483648",
        "concurrency_limit": "-1",
    }
    fields, shown = _read(typed)
    assert fields is None
    assert shown.errors == {
        "models": NO_MODEL,
        "expires": PAST_DATE,
        "max_fee": BAD_AMOUNT,
        "rpm_limit": BAD_LIMIT,
        "tpm_limit": BAD_LIMIT,
        "concurrency_limit": BAD_LIMIT,
    }
    assert shown.values["max_fee"] == "0.0000001"


def test_models_must_come_from_the_list_and_dates_must_be_dates() -> None:
    _, shown = _read({"scope": "some", "expires": "31/01/2027", "max_fee": "-1"}, ["gpt-5"])
    assert shown.errors == {"models": UNKNOWN_MODEL, "expires": BAD_DATE, "max_fee": BAD_AMOUNT}


def test_an_unchanged_expiry_keeps_its_exact_time_even_when_past() -> None:
    moment = datetime(2026, 1, 5, 13, 30, tzinfo=UTC)
    row = ApiKey(remark="x", permissions=None, expired_at=moment, max_fee=0)
    fields, _ = _read({"scope": "all", "expires": "2026-01-05"}, current=row)
    assert fields is not None and fields.expired_at == moment
    assert KeyForm.of(row).values["expires"] == "2026-01-05"


def test_the_status_names_the_first_reason_a_key_does_not_work() -> None:
    now = datetime(2026, 12, 7, tzinfo=UTC)
    key = ApiKey(is_disabled=False, expired_at=None, max_fee=0, used_fee=0)
    assert key_status(key, now) == "Active"
    key.max_fee, key.used_fee = 5, 5
    assert key_status(key, now) == "Spend cap reached"
    key.expired_at = now
    assert key_status(key, now) == "Expired"
    key.is_disabled = True
    assert key_status(key, now) == "Disabled"
