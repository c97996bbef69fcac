"""The checks every tier table passes, from the operator or the settings: strictly
increasing exact thresholds, months and RPM at least 1, an RPM table from 0, domain names."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from relaygate.billing.membership import MembershipTier
from relaygate.billing.tier_rules import (
    DEFAULT_TABLES,
    MEMBERSHIP,
    RATE_LIMITS,
    REFERRAL,
    ReferralTerms,
    RpmTier,
    check_membership,
    check_referral,
    check_rpm,
    default_tables,
    section_json,
    with_section,
)
from relaygate.core.errors import InvalidRequest


def _refused(check: Any, value: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as refused:
        check(value)
    return refused.value


def test_membership_rows_become_exact_tiers() -> None:
    tiers = check_membership(
        [
            {"level": "vip", "min_topup": "10.5", "months": 2},
            {"level": "premium", "min_topup": Decimal("99.000001"), "months": "12"},
        ]
    )
    assert tiers == (
        MembershipTier("vip", 10_500_000, 2),
        MembershipTier("premium", 99_000_001, 12),
    )
    assert check_membership([]) == ()  # nobody earns a membership


@pytest.mark.parametrize(
    ("rows", "param"),
    [
        ([{"level": "gold", "min_topup": "1", "months": 1}], "membership_tiers[0].level"),
        ([{"level": "vip", "min_topup": "-1", "months": 1}], "membership_tiers[0].min_topup"),
        (
            [{"level": "vip", "min_topup": "0.0000001", "months": 1}],
            "membership_tiers[0].min_topup",
        ),
        ([{"level": "vip", "min_topup": 1.5, "months": 1}], "membership_tiers[0].min_topup"),
        ([{"level": "vip", "min_topup": "1", "months": 0}], "membership_tiers[0].months"),
        ([{"level": "vip", "min_topup": "1"}], "membership_tiers[0].months"),
        (
            [
                {"level": "vip", "min_topup": "20", "months": 1},
                {"level": "premium", "min_topup": "20", "months": 6},
            ],
            "membership_tiers[1].min_topup",
        ),
        ("vip", "membership_tiers"),
    ],
)
def test_membership_refusals_name_the_field(rows: Any, param: str) -> None:
    assert _refused(check_membership, rows).param == param


def test_rpm_tiers_start_at_zero_and_increase() -> None:
    assert check_rpm([{"min_topup": "0", "rpm": 5}, {"min_topup": 20, "rpm": 50}]) == (
        RpmTier(0, 5),
        RpmTier(20_000_000, 50),
    )
    assert _refused(check_rpm, []).param == RATE_LIMITS
    assert (
        _refused(check_rpm, [{"min_topup": "1", "rpm": 5}]).param == "rate_limit_tiers[0].min_topup"
    )
    assert _refused(check_rpm, [{"min_topup": "0", "rpm": 0}]).param == "rate_limit_tiers[0].rpm"
    assert _refused(check_rpm, [{"min_topup": "0", "rpm": True}]).param == "rate_limit_tiers[0].rpm"
    decreasing = [
        {"min_topup": "0", "rpm": 5},
        {"min_topup": "30", "rpm": 9},
        {"min_topup": "20", "rpm": 10},
    ]
    refused = _refused(check_rpm, decreasing)
    assert refused.param == "rate_limit_tiers[2].min_topup"
    assert "strictly increase" in refused.message


def test_referral_terms_normalise_domains() -> None:
    terms = check_referral(
        {
            "package_type": " Welcome pack ",
            "allowed_domains": ["Example.COM", "@corp.example.org", "example.com"],
            "denied_domains": "mailinator.com, yopmail.com",
            "redeem_days": 0,
        }
    )
    assert terms == ReferralTerms(
        "Welcome pack", ("example.com", "corp.example.org"), ("mailinator.com", "yopmail.com"), 0
    )
    bad_domain = {"package_type": "p", "denied_domains": ["not a domain"], "redeem_days": 7}
    assert _refused(check_referral, bad_domain).param == "referral.denied_domains"
    assert _refused(check_referral, {"package_type": "", "redeem_days": 7}).param == (
        "referral.package_type"
    )
    assert _refused(check_referral, {"package_type": "p", "redeem_days": -1}).param == (
        "referral.redeem_days"
    )


def test_a_section_round_trips_through_its_stored_shape() -> None:
    for section in (MEMBERSHIP, RATE_LIMITS, REFERRAL):
        stored = section_json(DEFAULT_TABLES, section)
        assert with_section(DEFAULT_TABLES, section, stored) == DEFAULT_TABLES
    assert section_json(DEFAULT_TABLES, RATE_LIMITS)[1] == {"min_topup": "20.000000", "rpm": 1000}


def test_settings_tables_are_sorted_then_checked() -> None:
    referral = {"package_type": "p", "redeem_days": 7}
    tables = default_tables(
        [("premium", Decimal(300), 12), ("vip", Decimal(20), 1)],
        [(Decimal(20), 100), (Decimal(0), 10)],
        referral,
    )
    assert [t.name for t in tables.membership] == ["vip", "premium"]
    assert tables.rpm == (RpmTier(0, 10), RpmTier(20_000_000, 100))
    assert tables.stored == frozenset()
    with pytest.raises(ValueError, match="rate_limit_tiers"):
        default_tables([], [(Decimal(5), 10)], referral)
