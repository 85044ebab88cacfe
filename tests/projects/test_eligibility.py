"""Eligibility criteria: validation, JSON Logic, evaluation, presentation requests, descriptions.

No database: the module is plain Python. The JSON Logic the criteria compile to is evaluated by
the JSON Logic library itself and must agree with evaluate() on any claims.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.identity.ssi.credential_types import CREDENTIAL_TYPES
from apps.identity.ssi.presentation import validate_request
from apps.projects import eligibility as el
from apps.projects.eligibility import (
    CLAIMS,
    MALFORMED_CLAIM,
    MAX_DEPTH,
    MAX_RULES,
    MET,
    MINIMAL_CLAIM,
    MISSING_CLAIM,
    MISSING_CREDENTIAL,
    NOT_MET,
    InvalidCriteria,
    apply_json_logic,
    describe,
    evaluate,
    json_logic_data,
    presentation_request,
    to_json_logic,
)

TODAY = date(2026, 6, 15)
BANK = "did:key:z6MkBankOfKenya"
OTHER = "did:key:z6MkSomeoneElse"

AGE_18 = {"credential": "age", "claim": "birthDate", "op": "age_at_least", "value": 18}
INCOME_150 = {
    "credential": "monthly_income",
    "claim": "monthlyIncome.amount",
    "op": ">=",
    "value": "150.00",
    "currency": "KES",
}
EAST_AFRICA = {
    "credential": "citizenship",
    "claim": "citizenship",
    "op": "in",
    "value": ["KE", "UG", "TZ"],
}
KYC = {"credential": "kyc", "op": "present"}


def income(amount, currency="KES"):
    return {"monthly_income": {"monthlyIncome": {"amount": amount, "currency": currency}}}


def logic_says(criteria, claims, issuers=None, today=TODAY) -> bool:
    data = json_logic_data(claims, issuers or {}, today)
    return apply_json_logic(to_json_logic(criteria), data)


def check(rule, claims, issuers=None, today=TODAY):
    """The one rule's result, after checking that the compiled JSON Logic agrees."""
    criteria = {"all": [rule]}
    result = evaluate(criteria, claims=claims, issuers=issuers or {}, today=today)
    assert len(result.rules) == 1
    assert result.eligible == result.rules[0].met
    assert logic_says(criteria, claims, issuers, today) == result.eligible
    return result.rules[0]


# -- every operator, met and not met --------------------------------------------------------------

OPERATOR_CASES = [
    # (rule, claims, met, reason)
    (AGE_18, {"age": {"birthDate": "2000-01-01"}}, True, "Age 26 is at least 18"),
    (AGE_18, {"age": {"birthDate": "2009-01-01"}}, False, "Age 17 is below 18"),
    (
        {"credential": "kyc", "claim": "birthdate", "op": "age_at_most", "value": 65},
        {"kyc": {"birthdate": "1961-06-15"}},
        True,
        "Age 65 is at most 65",
    ),
    (
        {"credential": "kyc", "claim": "birthdate", "op": "age_at_most", "value": 65},
        {"kyc": {"birthdate": "1960-06-15"}},
        False,
        "Age 66 is above 65",
    ),
    (INCOME_150, income("150.00"), True, "Monthly income 150.00 KES is at least 150.00 KES"),
    (INCOME_150, income("120.00"), False, "Monthly income 120.00 KES is below 150.00 KES"),
    (
        {**INCOME_150, "op": ">"},
        income("150.0001"),
        True,
        "Monthly income 150.0001 KES is above 150.00 KES",
    ),
    (
        {**INCOME_150, "op": ">"},
        income("150"),
        False,
        "Monthly income 150 KES is not above 150.00 KES",
    ),
    (
        {**INCOME_150, "op": "<"},
        income("149.9999"),
        True,
        "Monthly income 149.9999 KES is below 150.00 KES",
    ),
    (
        {**INCOME_150, "op": "<"},
        income("150.0"),
        False,
        "Monthly income 150.0 KES is not below 150.00 KES",
    ),
    (
        {**INCOME_150, "op": "<="},
        income("150.0"),
        True,
        "Monthly income 150.0 KES is at most 150.00 KES",
    ),
    (
        {**INCOME_150, "op": "<="},
        income("150.01"),
        False,
        "Monthly income 150.01 KES is above 150.00 KES",
    ),
    (
        {**INCOME_150, "op": "=="},
        income("150"),
        True,
        "Monthly income 150 KES is 150.00 KES",
    ),
    (
        {**INCOME_150, "op": "=="},
        income("150.01"),
        False,
        "Monthly income 150.01 KES is not 150.00 KES",
    ),
    (
        {**INCOME_150, "op": "!="},
        income("0"),
        True,
        "Monthly income 0 KES is not 150.00 KES",
    ),
    (
        {**INCOME_150, "op": "!="},
        income("150.000"),
        False,
        "Monthly income is 150.000 KES, which this project does not accept",
    ),
    (
        {"credential": "land_size", "claim": "landSizeHectares", "op": ">=", "value": "2"},
        {"land_size": {"landSizeHectares": "2.0"}},
        True,
        "Land size 2.0 hectares is at least 2 hectares",
    ),
    (
        {"credential": "land_size", "claim": "landSizeHectares", "op": ">=", "value": "2"},
        {"land_size": {"landSizeHectares": "1.5"}},
        False,
        "Land size 1.5 hectares is below 2 hectares",
    ),
    (
        {"credential": "repayment_history", "claim": "loansWrittenOff", "op": "==", "value": 0},
        {"repayment_history": {"loansWrittenOff": 0}},
        True,
        "Loans written off 0 is 0",
    ),
    (
        {"credential": "repayment_history", "claim": "loansWrittenOff", "op": "==", "value": 0},
        {"repayment_history": {"loansWrittenOff": 1}},
        False,
        "Loans written off 1 is not 0",
    ),
    (
        {"credential": "repayment_history", "claim": "loansRepaid", "op": ">", "value": 1},
        {"repayment_history": {"loansRepaid": 2}},
        True,
        "Loans repaid 2 is above 1",
    ),
    (
        {"credential": "repayment_history", "claim": "loansRepaid", "op": ">", "value": 1},
        {"repayment_history": {"loansRepaid": 1}},
        False,
        "Loans repaid 1 is not above 1",
    ),
    (
        {"credential": "repayment_history", "claim": "loansWrittenOff", "op": "!=", "value": 3},
        {"repayment_history": {"loansWrittenOff": 3}},
        False,
        "Loans written off is 3, which this project does not accept",
    ),
    (
        {
            "credential": "cooperative_membership",
            "claim": "memberSince",
            "op": "<=",
            "value": "2020-01-01",
        },
        {"cooperative_membership": {"memberSince": "2020-01-01"}},
        True,
        "Membership start 2020-01-01 is on or before 2020-01-01",
    ),
    (
        {
            "credential": "cooperative_membership",
            "claim": "memberSince",
            "op": "<=",
            "value": "2020-01-01",
        },
        {"cooperative_membership": {"memberSince": "2020-01-02"}},
        False,
        "Membership start 2020-01-02 is after 2020-01-01",
    ),
    (
        {
            "credential": "repayment_history",
            "claim": "lastLoanClosedOn",
            "op": ">",
            "value": "2025-12-31",
        },
        {"repayment_history": {"lastLoanClosedOn": "2026-01-01"}},
        True,
        "Last loan closed 2026-01-01 is after 2025-12-31",
    ),
    (
        {
            "credential": "repayment_history",
            "claim": "lastLoanClosedOn",
            "op": "<",
            "value": "2025-12-31",
        },
        {"repayment_history": {"lastLoanClosedOn": "2025-12-31"}},
        False,
        "Last loan closed 2025-12-31 is not before 2025-12-31",
    ),
    (
        {
            "credential": "cooperative_membership",
            "claim": "memberSince",
            "op": "age_at_least",
            "value": 2,
        },
        {"cooperative_membership": {"memberSince": "2024-06-16"}},
        False,
        "Years of membership 1 is below 2",
    ),
    (EAST_AFRICA, {"citizenship": {"citizenship": "UG"}}, True, "Country of citizenship Uganda"),
    (
        EAST_AFRICA,
        {"citizenship": {"citizenship": "RW"}},
        False,
        "Country of citizenship Rwanda is not one of Kenya, Uganda or Tanzania",
    ),
    (
        {**EAST_AFRICA, "op": "not in", "value": ["RW"]},
        {"citizenship": {"citizenship": "KE"}},
        True,
        "Country of citizenship Kenya is none of Rwanda",
    ),
    (
        {**EAST_AFRICA, "op": "not in", "value": ["RW"]},
        {"citizenship": {"citizenship": "RW"}},
        False,
        "Country of citizenship is Rwanda, which this project does not accept",
    ),
    (
        {"credential": "kyc", "claim": "nationality", "op": "==", "value": "KE"},
        {"kyc": {"nationality": "KE"}},
        True,
        "Nationality Kenya is Kenya",
    ),
    (
        {"credential": "kyc", "claim": "nationality", "op": "!=", "value": "KE"},
        {"kyc": {"nationality": "KE"}},
        False,
        "Nationality is Kenya, which this project does not accept",
    ),
    (
        {
            "credential": "cooperative_membership",
            "claim": "cooperative",
            "op": "in",
            "value": ["Kiambu Dairy", "Meru Coffee Growers"],
        },
        {"cooperative_membership": {"cooperative": "Meru Coffee Growers"}},
        True,
        "Cooperative Meru Coffee Growers is one of Kiambu Dairy or Meru Coffee Growers",
    ),
    (
        {
            "credential": "cooperative_membership",
            "claim": "cooperative",
            "op": "==",
            "value": "Kiambu Dairy",
        },
        {"cooperative_membership": {"cooperative": "kiambu dairy"}},
        False,
        "Cooperative kiambu dairy is not Kiambu Dairy",
    ),
    (KYC, {"kyc": {"nationality": "KE"}}, True, "You have a KYC credential"),
    (KYC, {"age": {"birthDate": "2000-01-01"}}, False, "You need a KYC credential"),
    (
        {"credential": "kyc", "claim": "id_number", "op": "present"},
        {"kyc": {"id_number": "A1234567"}},
        True,
        "Your KYC credential shows the id document number",
    ),
    (
        {"credential": "kyc", "claim": "id_number", "op": "present"},
        {"kyc": {"nationality": "KE"}},
        False,
        "You need to show the id document number from your KYC credential",
    ),
]


@pytest.mark.parametrize(("rule", "claims", "met", "reason"), OPERATOR_CASES)
def test_every_operator_is_met_or_not_with_a_plain_reason(rule, claims, met, reason):
    result = check(rule, claims)
    assert result.met is met
    assert reason in result.reason


def test_the_cases_cover_every_operator_both_ways():
    covered = {(case[0]["op"], case[2]) for case in OPERATOR_CASES}
    assert covered == {(op, met) for op in el.OPERATORS for met in (True, False)}


def test_decimals_compare_exactly_where_floats_would_not():
    assert float("999999999999.9997") == float("999999999999.9998")
    rule = {**INCOME_150, "op": ">", "value": "999999999999.9997"}
    assert check(rule, income("999999999999.9998")).met
    assert not check({**rule, "op": "=="}, income("999999999999.9998")).met
    assert not check({**rule, "op": "<="}, income("999999999999.9998")).met
    land = {"credential": "land_size", "claim": "landSizeHectares", "op": "==", "value": "0.3"}
    # 0.1 + 0.2 style trouble does not arise: "0.30" and "0.3" are the same decimal
    assert check(land, {"land_size": {"landSizeHectares": "0.30"}}).met


def test_a_money_rule_in_another_currency_is_not_met():
    result = check(INCOME_150, income("9000.00", "USD"))
    assert result.status == NOT_MET
    assert result.reason == "Monthly income is in USD, but this project asks for KES"


# -- missing and malformed ------------------------------------------------------------------------


def test_a_missing_credential():
    result = evaluate({"all": [INCOME_150]}, claims={}, issuers={}, today=TODAY)
    assert not result.eligible
    assert result.rules[0].status == MISSING_CREDENTIAL
    assert result.rules[0].reason == "You need a Monthly income credential"
    assert result.needed == {"monthly_income": ["monthlyIncome"]}


def test_a_missing_claim():
    rule = {"credential": "kyc", "claim": "birthdate", "op": "age_at_least", "value": 18}
    result = evaluate(
        {"all": [rule]}, claims={"kyc": {"nationality": "KE"}}, issuers={}, today=TODAY
    )
    assert result.rules[0].status == MISSING_CLAIM
    assert result.rules[0].reason == "You need to show the date of birth from your KYC credential"
    assert result.needed == {"kyc": ["birthdate"]}


@pytest.mark.parametrize(
    ("rule", "claims"),
    [
        (AGE_18, {"age": {"birthDate": "2000-02-30"}}),
        (AGE_18, {"age": {"birthDate": "2000-1-1"}}),
        (AGE_18, {"age": {"birthDate": "2030-01-01"}}),  # born after the evaluation day
        (AGE_18, {"age": {"birthDate": 946684800}}),
        (AGE_18, {"age": {"birthDate": None}}),
        (AGE_18, {"age": ["2000-01-01"]}),
        (KYC, {"kyc": "yes"}),
        (INCOME_150, income("1e3")),
        (INCOME_150, income(" 150")),
        (INCOME_150, income("150.00\n")),
        (INCOME_150, income(150)),
        (INCOME_150, income("-5")),
        (INCOME_150, income("150.00", "ZZZ")),
        (INCOME_150, {"monthly_income": {"monthlyIncome": "150.00 KES"}}),
        (EAST_AFRICA, {"citizenship": {"citizenship": "ke"}}),
        (EAST_AFRICA, {"citizenship": {"citizenship": ["KE"]}}),
        (
            {"credential": "repayment_history", "claim": "loansRepaid", "op": ">=", "value": 1},
            {"repayment_history": {"loansRepaid": True}},
        ),
        (
            {"credential": "repayment_history", "claim": "loansRepaid", "op": ">=", "value": 1},
            {"repayment_history": {"loansRepaid": 5.0}},
        ),
        (
            {"credential": "repayment_history", "claim": "loansRepaid", "op": "!=", "value": 1},
            {"repayment_history": {"loansRepaid": "5"}},
        ),
        (
            {"credential": "kyc", "claim": "nationality", "op": "!=", "value": "KE"},
            {"kyc": {"nationality": ""}},
        ),
    ],
)
def test_malformed_claims_are_a_rule_result(rule, claims):
    result = check(rule, claims)
    assert result.status == MALFORMED_CLAIM
    assert "cannot be read" in result.reason


# -- issuers --------------------------------------------------------------------------------------


def test_a_credential_from_an_issuer_the_project_does_not_accept():
    criteria = {"all": [INCOME_150], "issuers": {"monthly_income": [BANK]}}
    claims = income("200.00")
    ok = evaluate(criteria, claims=claims, issuers={"monthly_income": BANK}, today=TODAY)
    assert ok.eligible
    other = evaluate(criteria, claims=claims, issuers={"monthly_income": OTHER}, today=TODAY)
    assert not other.eligible
    assert other.rules[0].status == MISSING_CREDENTIAL
    assert other.rules[0].reason == (
        "Your Monthly income credential is not from an issuer this project accepts"
    )
    assert other.needed == {"monthly_income": ["monthlyIncome"]}
    assert logic_says(criteria, claims, {"monthly_income": BANK})
    assert not logic_says(criteria, claims, {"monthly_income": OTHER})
    assert not logic_says(criteria, claims, {})
    missing = evaluate(criteria, claims={}, issuers={}, today=TODAY)
    assert missing.rules[0].reason == (
        "You need a Monthly income credential from an issuer this project accepts"
    )


def test_without_an_issuer_list_any_trusted_issuer_will_do():
    criteria = {"all": [INCOME_150], "issuers": {"monthly_income": []}}
    assert el.validate(criteria) == {"all": [INCOME_150]}
    assert evaluate(criteria, claims=income("200"), issuers={}, today=TODAY).eligible


# -- ages -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "today", "age"),
    [
        ("2008-06-15", "2026-06-15", 18),  # the 18th birthday itself
        ("2008-06-16", "2026-06-15", 17),  # the day before it
        ("2008-02-29", "2026-02-28", 17),  # leap-day birth, common year: not yet
        ("2008-02-29", "2026-03-01", 18),  # ...a year older on 1 March
        ("2008-02-29", "2028-02-28", 19),
        ("2008-02-29", "2028-02-29", 20),  # leap year: on the day
        ("2007-03-01", "2025-02-28", 17),
        ("2007-03-01", "2025-03-01", 18),
        ("2026-06-15", "2026-06-15", 0),  # born today
    ],
)
def test_ages_in_whole_years_on_birthdays_and_leap_days(born, today, age):
    on = date.fromisoformat(today)
    assert el.years_between(date.fromisoformat(born), on) == age
    at_least = {"credential": "age", "claim": "birthDate", "op": "age_at_least", "value": age}
    claims = {"age": {"birthDate": born}}
    assert check(at_least, claims, today=on).met
    assert not check({**at_least, "value": age + 1}, claims, today=on).met
    assert check({**at_least, "op": "age_at_most"}, claims, today=on).met
    if age:
        assert not check({**at_least, "op": "age_at_most", "value": age - 1}, claims, today=on).met


def test_a_datetime_counts_by_its_day():
    claims = {"age": {"birthDate": "2008-06-15"}}
    at = datetime(2026, 6, 15, 23, 59)
    assert evaluate({"all": [AGE_18]}, claims=claims, issuers={}, today=at).eligible
    assert logic_says({"all": [AGE_18]}, claims, today=at)


# -- groups ---------------------------------------------------------------------------------------


def test_all_and_any_groups_nest():
    criteria = {
        "any": [
            {"all": [AGE_18, INCOME_150]},
            {"all": [AGE_18, {"any": [EAST_AFRICA, KYC]}]},
        ]
    }
    adult = {"age": {"birthDate": "1990-01-01"}}
    cases = [
        ({**adult, **income("200")}, True),
        ({**adult, **income("100")}, False),
        ({**adult, **income("100"), "citizenship": {"citizenship": "KE"}}, True),
        ({**adult, "kyc": {"nationality": "NG"}}, True),
        ({"kyc": {"nationality": "NG"}, **income("500")}, False),
        ({"age": {"birthDate": "2015-01-01"}, "kyc": {}, **income("500")}, False),
    ]
    for claims, eligible in cases:
        result = evaluate(criteria, claims=claims, issuers={}, today=TODAY)
        assert result.eligible is eligible, claims
        assert logic_says(criteria, claims) is eligible


def test_an_any_group_is_met_by_one_alternative_and_asks_for_nothing_more():
    criteria = {"all": [AGE_18, {"any": [EAST_AFRICA, INCOME_150, KYC]}]}
    claims = {"age": {"birthDate": "1990-01-01"}, "citizenship": {"citizenship": "UG"}}
    result = evaluate(criteria, claims=claims, issuers={}, today=TODAY)
    assert result.eligible
    assert [r.status for r in result.rules] == [MET, MET, MISSING_CREDENTIAL, MISSING_CREDENTIAL]
    assert result.needed == {}
    claims["citizenship"] = {"citizenship": "RW"}
    result = evaluate(criteria, claims=claims, issuers={}, today=TODAY)
    assert not result.eligible
    assert result.needed == {"kyc": ["nationality"], "monthly_income": ["monthlyIncome"]}
    assert result.reasons[0] == (
        "Country of citizenship Rwanda is not one of Kenya, Uganda or Tanzania"
    )


def test_required_credentials_leave_out_alternatives():
    criteria = {"all": [AGE_18, {"any": [EAST_AFRICA, INCOME_150]}, {"any": [KYC, {**KYC}]}]}
    assert el.required_credentials(criteria) == ["age", "kyc"]


# -- presentation request -------------------------------------------------------------------------


def test_the_request_asks_for_exactly_the_claims_the_rules_read():
    criteria = {
        "all": [
            AGE_18,
            INCOME_150,
            {**INCOME_150, "op": "<", "value": "5000"},
            EAST_AFRICA,
            {"credential": "kyc", "claim": "birthdate", "op": "age_at_most", "value": 70},
            KYC,
            {"credential": "repayment_history", "op": "present"},
            {"credential": "cooperative_membership", "claim": "cooperative", "op": "present"},
        ]
    }
    request = presentation_request(criteria)
    assert request == {
        "age": ["birthDate"],
        "citizenship": ["citizenship"],
        "cooperative_membership": ["cooperative"],
        "kyc": ["birthdate"],  # "present" adds nothing when another rule reads the credential
        "monthly_income": ["monthlyIncome"],
        "repayment_history": ["loansRepaid"],  # the minimal claim
    }
    assert validate_request(request) == request


def test_the_minimal_claims_are_required_claims():
    assert set(MINIMAL_CLAIM) == set(CREDENTIAL_TYPES)
    for slug, claim in MINIMAL_CLAIM.items():
        assert claim in CREDENTIAL_TYPES[slug].claims_schema["required"]
        assert presentation_request({"all": [{"credential": slug, "op": "present"}]}) == {
            slug: [claim]
        }


# -- describing -----------------------------------------------------------------------------------


def test_describe_in_plain_language():
    criteria = {
        "all": [
            AGE_18,
            INCOME_150,
            {"any": [EAST_AFRICA, KYC]},
            {"credential": "land_size", "claim": "landSizeHectares", "op": ">", "value": "0.5"},
            {"credential": "kyc", "claim": "nationality", "op": "present"},
        ],
        "issuers": {"monthly_income": [BANK, OTHER]},
    }
    assert describe(criteria, issuer_names={BANK: "Bank of Kenya"}) == [
        "Age at least 18 (from an Age credential)",
        "Monthly income at least 150.00 KES (from a Monthly income credential)",
        "Any one of:",
        "  Country of citizenship is one of Kenya, Uganda or Tanzania "
        "(from a Citizenship credential)",
        "  A KYC credential",
        "Land size above 0.5 hectares (from a Land size credential)",
        "Nationality shown (from a KYC credential)",
        f"Monthly income credentials issued by Bank of Kenya or {OTHER}",
    ]
    assert describe({"any": [AGE_18, KYC]}) == [
        "Any one of:",
        "  Age at least 18 (from an Age credential)",
        "  A KYC credential",
    ]


def test_the_catalogue_offers_every_claim_of_every_credential_type():
    catalogue = el.catalogue()
    assert [entry["credential"] for entry in catalogue] == list(CREDENTIAL_TYPES)
    for entry in catalogue:
        names = {c["claim"].split(".")[0] for c in entry["claims"]}
        assert names == set(CREDENTIAL_TYPES[entry["credential"]].claim_names)
        for claim in entry["claims"]:
            assert "present" in claim["operators"]


# -- invalid criteria -----------------------------------------------------------------------------


def nest(depth: int) -> dict:
    node: dict = {"all": [AGE_18]}
    for _ in range(depth - 1):
        node = {"all": [node]}
    return node


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([AGE_18], "must be an object"),
        ({}, 'must be {"all": [...]} or {"any": [...]}'),
        ({"all": [AGE_18], "any": [AGE_18]}, 'must be {"all": [...]} or {"any": [...]}'),
        ({"all": [AGE_18], "version": 2}, 'must be {"all": [...]} or {"any": [...]}'),
        ({"all": []}, '"all" takes a list of at least one'),
        ({"all": [AGE_18, {"any": []}]}, '"any" takes a list of at least one'),
        ({"all": [AGE_18, "age >= 18"]}, "expected a rule"),
        ({"all": [{**AGE_18, "credential": "passport"}]}, "Rule 1: unknown credential type"),
        ({"all": [{**AGE_18, "credential": 10**5000}]}, "type a very large number"),
        ({"all": [KYC, {**AGE_18, "claim": "dob"}]}, 'Rule 2 (Age): "age_at_least" needs a claim'),
        ({"all": [{**AGE_18, "op": "older than"}]}, "Rule 1 (Age): unknown operator"),
        ({"all": [{**AGE_18, "op": "in"}]}, 'Rule 1 (Age): "in" does not apply to Date of birth'),
        ({"all": [{**INCOME_150, "op": "in"}]}, "does not apply to Monthly income"),
        ({"all": [{**AGE_18, "value": "18"}]}, "whole number of years"),
        ({"all": [{**AGE_18, "value": True}]}, "whole number of years"),
        ({"all": [{**AGE_18, "value": 151}]}, "whole number of years"),
        ({"all": [{**INCOME_150, "value": 150}]}, "an amount string"),
        ({"all": [{**INCOME_150, "value": "150.00\n"}]}, "an amount string"),
        ({"all": [{**INCOME_150, "value": "1e3"}]}, "an amount string"),
        ({"all": [{k: v for k, v in INCOME_150.items() if k != "currency"}]}, "needs a currency"),
        ({"all": [{**INCOME_150, "currency": "XYZ"}]}, "needs a currency"),
        ({"all": [{**AGE_18, "currency": "KES"}]}, "only amounts of money take a currency"),
        ({"all": [{**EAST_AFRICA, "value": "KE"}]}, "must be a list of 1 to"),
        ({"all": [{**EAST_AFRICA, "value": []}]}, "must be a list of 1 to"),
        ({"all": [{**EAST_AFRICA, "value": ["KE", "XX"]}]}, "must be a list of 1 to"),
        ({"all": [{**EAST_AFRICA, "value": ["KE", "KE"]}]}, "repeats a value"),
        ({"all": [{**EAST_AFRICA, "op": "==", "value": "Kenya"}]}, "an ISO country code"),
        (
            {"all": [{"credential": "repayment_history", "claim": "loansRepaid", "op": ">="}]},
            '">=" needs a value',
        ),
        (
            {
                "all": [
                    {
                        "credential": "repayment_history",
                        "claim": "loansRepaid",
                        "op": ">=",
                        "value": 2.0,
                    }
                ]
            },
            "whole number from 0 to 10000",
        ),
        (
            {
                "all": [
                    {"credential": "kyc", "claim": "id_number", "op": "==", "value": "no!"},
                ]
            },
            "a valid id document number",
        ),
        (
            {"all": [{**AGE_18, "op": "==", "value": "2000-02-30"}]},
            "a date such as",
        ),
        ({"all": [{**KYC, "value": 1}]}, '"present" rule takes no value'),
        ({"all": [{**KYC, "claim": "photo"}]}, "Rule 1 (KYC): has no claim 'photo'"),
        ({"all": [{**AGE_18, "note": "x"}]}, "unknown key 'note'"),
        (nest(MAX_DEPTH + 1), f"nests groups more than {MAX_DEPTH} deep"),
        ({"all": [AGE_18] * (MAX_RULES + 1)}, f"more than {MAX_RULES} rules"),
        ({"all": [AGE_18], "issuers": {"kyc": [BANK]}}, "no rule uses a KYC credential"),
        ({"all": [AGE_18], "issuers": {"passport": [BANK]}}, "unknown credential type"),
        ({"all": [AGE_18], "issuers": {"age": BANK}}, "takes a list of at most"),
        ({"all": [AGE_18], "issuers": {"age": ["Bank of Kenya"]}}, "takes a list of at most"),
        ({"all": [AGE_18], "issuers": {"age": [BANK, BANK]}}, "lists an issuer twice"),
        ({"all": [AGE_18], "issuers": [BANK]}, '"issuers" must map'),
    ],
)
def test_invalid_criteria_are_refused_with_a_plain_message(document, message):
    with pytest.raises(InvalidCriteria) as refused:
        el.parse(document)
    assert any(message in error for error in refused.value.errors), refused.value.errors
    for call in (to_json_logic, presentation_request, describe, el.validate):
        with pytest.raises(InvalidCriteria):
            call(document)
    with pytest.raises(InvalidCriteria):
        evaluate(document, claims={}, issuers={}, today=TODAY)


def test_the_limits_themselves_are_allowed():
    el.parse(nest(MAX_DEPTH))
    el.parse({"all": [AGE_18] * MAX_RULES})


def test_every_problem_is_reported_once():
    with pytest.raises(InvalidCriteria) as refused:
        el.parse({"all": [{**AGE_18, "value": -1}, AGE_18, {**EAST_AFRICA, "value": []}]})
    assert len(refused.value.errors) == 2
    assert refused.value.errors[0].startswith("Rule 1 (Age)")
    assert refused.value.errors[1].startswith("Rule 3 (Citizenship)")


# -- hypothesis: strategies -----------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

COUNTRIES = ["KE", "UG", "TZ", "RW", "NG"]
TEXTS = ["Wanjiru", "Otieno", "Kiambu Dairy", "A1234567"]
AMOUNTS = [
    "0",
    "0.5",
    "2.5",
    "120.00",
    "150",
    "150.00",
    "150.0001",
    "999999999999.9997",
    "999999999999.9998",
]
CURRENCIES = ["KES", "USD"]
DIDS = [BANK, OTHER]

decimal_strings = st.sampled_from(AMOUNTS) | st.builds(
    lambda units, fraction: f"{units}{fraction and '.' + fraction}",
    st.integers(0, 10**12 - 1),
    st.text("0123456789", max_size=4),
)
iso_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)).map(date.isoformat)
counts = st.integers(0, 5) | st.integers(0, 10_000)

VALUES = {
    el.DATE: iso_dates,
    el.COUNTRY: st.sampled_from(COUNTRIES),
    el.TEXT: st.sampled_from(TEXTS),
    el.DECIMAL: decimal_strings,
    el.MONEY: decimal_strings,
    el.COUNT: counts,
}


@st.composite
def rules(draw) -> dict:
    claim = draw(st.sampled_from(list(CLAIMS.values())))
    op = draw(st.sampled_from([*el.OPERATORS_BY_KIND[claim.kind], "present-credential"]))
    if op == "present-credential":
        return {"credential": claim.credential, "op": "present"}
    if op == "present":
        return {"credential": claim.credential, "claim": claim.name, "op": "present"}
    rule = {"credential": claim.credential, "claim": claim.path, "op": op}
    if op in el.AGES:
        rule["value"] = draw(st.integers(0, 90) | st.integers(0, el.MAX_YEARS))
    elif op in el.MEMBERSHIP:
        rule["value"] = draw(st.lists(VALUES[claim.kind], min_size=1, max_size=4, unique=True))
    else:
        rule["value"] = draw(VALUES[claim.kind])
    if claim.kind == el.MONEY:
        rule["currency"] = draw(st.sampled_from(CURRENCIES))
    return rule


def groups(depth: int):
    children = rules() if depth == MAX_DEPTH else rules() | groups(depth + 1)
    return st.builds(
        lambda mode, items: {mode: items},
        st.sampled_from(["all", "any"]),
        st.lists(children, min_size=1, max_size=3 if depth <= 2 else 2),  # <= 36 rules
    )


@st.composite
def criteria_documents(draw) -> dict:
    document = draw(groups(1))
    used = sorted({rule.credential for rule in el.parse(document).rules})
    restricted = draw(st.lists(st.sampled_from(used), unique=True, max_size=2)) if used else []
    if restricted:
        document["issuers"] = {
            slug: draw(st.lists(st.sampled_from(DIDS), min_size=1, unique=True))
            for slug in restricted
        }
    return document


def claim_values(claim):
    if claim.kind == el.MONEY:
        good = st.fixed_dictionaries(
            {"amount": decimal_strings, "currency": st.sampled_from(CURRENCIES)}
        )
        odd = st.fixed_dictionaries(
            {
                "amount": decimal_strings | json_values,
                "currency": st.sampled_from([*CURRENCIES, "X"]),
            },
            optional={"extra": json_values},
        )
        return good | odd | json_values
    return VALUES[claim.kind] | json_values


@st.composite
def claim_sets(draw) -> dict:
    claims: dict = {}
    for slug in draw(st.lists(st.sampled_from([*CREDENTIAL_TYPES, "other"]), unique=True)):
        if slug == "other" or draw(st.integers(0, 9)) == 0:
            claims[slug] = draw(json_values)
            continue
        shown = {}
        for claim in CLAIMS.values():
            if claim.credential == slug and draw(st.booleans()):
                shown[claim.name] = draw(claim_values(claim))
        claims[slug] = shown
    return claims


issuer_sets = st.dictionaries(
    st.sampled_from([*CREDENTIAL_TYPES, "other"]), st.sampled_from(DIDS) | json_values
)
days = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))


def near_values(claim, rules, today):
    """Values of CLAIM that sit on and around what RULES compare it with, so that random
    borrowers meet and miss rules about as often as they lack credentials."""
    pools = [VALUES[claim.kind]]
    for rule in rules:
        literals = list(rule.value) if isinstance(rule.value, tuple) else [rule.value]
        if rule.op in el.AGES:
            anniversary = date(today.year - rule.value, today.month, min(today.day, 28))
            pools.append(
                st.integers(-400, 400).map(lambda d, a=anniversary: (a + timedelta(d)).isoformat())
            )
            pools.append(st.sampled_from(["2008-02-29", "2004-02-29", "1960-02-29"]))
        elif claim.kind == el.DATE:
            pools.append(
                st.sampled_from(literals).flatmap(
                    lambda v: st.integers(-2, 2).map(
                        lambda d, v=v: (date.fromisoformat(v) + timedelta(d)).isoformat()
                    )
                )
            )
        elif claim.kind in (el.DECIMAL, el.MONEY):
            pools.append(
                st.sampled_from([*literals, *(v + ("0" if "." in v else ".0") for v in literals)])
            )
        elif claim.kind == el.COUNT:
            pools.append(
                st.sampled_from(literals).flatmap(
                    lambda v: st.integers(max(v - 1, 0), min(v + 1, 10_000))
                )
            )
        else:
            pools.append(st.sampled_from(literals))
    values = st.one_of(pools)
    if claim.kind == el.MONEY:
        currencies = [*CURRENCIES, *(r.currency for r in rules)]
        values = st.fixed_dictionaries({"amount": values, "currency": st.sampled_from(currencies)})
    return st.integers(0, 9).flatmap(lambda n: json_values if n == 9 else values)


@st.composite
def scenarios(draw):
    """Criteria and a borrower (claims, issuers, day) who is close to meeting them."""
    criteria = draw(criteria_documents())
    parsed = el.parse(criteria)
    today = draw(days)
    used = sorted({rule.credential for rule in parsed.rules})
    claims: dict = {}
    for slug in used:
        roll = draw(st.integers(0, 19))  # 0 is what Hypothesis tries first: the ordinary case
        if roll == 19:
            continue  # a missing credential
        if roll == 18:
            claims[slug] = draw(json_values)  # a credential that cannot be read
            continue
        shown = {}
        for claim in CLAIMS.values():
            if claim.credential == slug and draw(st.integers(0, 9)) < 9:
                rules_on_it = [
                    r
                    for r in parsed.rules
                    if r.claim is claim and r.op != "present" and r.value is not None
                ]
                shown[claim.name] = draw(near_values(claim, rules_on_it, today))
        claims[slug] = shown
    issuers = {}
    for slug in used:
        roll = draw(st.integers(0, 9))
        if roll == 9:
            continue  # no issuer known
        accepted = list(parsed.issuers.get(slug, DIDS))
        issuers[slug] = draw(st.sampled_from(accepted) if roll < 7 else st.sampled_from(DIDS))
    return criteria, claims, issuers, today


# -- hypothesis: properties -----------------------------------------------------------------------


def agree(criteria, claims, issuers, today):
    result = evaluate(criteria, claims=claims, issuers=issuers, today=today)
    logic = to_json_logic(criteria)
    data = json_logic_data(claims, issuers, today)
    assert json.loads(json.dumps(logic)) == logic  # plain JSON, storable and portable
    assert apply_json_logic(logic, data) is result.eligible
    parsed = el.parse(criteria)
    for rule, rule_result in zip(parsed.rules, result.rules, strict=True):
        one = {"all": [rule.document]}
        if rule.credential in parsed.issuers:
            one["issuers"] = {rule.credential: list(parsed.issuers[rule.credential])}
        assert apply_json_logic(to_json_logic(one), data) is rule_result.met
        assert rule_result.reason


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_the_json_logic_agrees_with_evaluate(scenario):
    agree(*scenario)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(criteria=criteria_documents(), claims=claim_sets(), issuers=issuer_sets, today=days)
def test_the_json_logic_agrees_with_evaluate_on_any_claims(criteria, claims, issuers, today):
    agree(criteria, claims, issuers, today)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), more=claim_sets())
def test_evaluate_reads_nothing_beyond_the_presentation_request(scenario, more):
    criteria, claims, issuers, today = scenario
    for slug, shown in more.items():  # claims and credentials the criteria do not ask for
        if isinstance(claims.get(slug), dict) and isinstance(shown, dict):
            claims[slug] = {**shown, **claims[slug]}
        else:
            claims.setdefault(slug, shown)
    request = presentation_request(criteria)
    assert validate_request(request) == request
    disclosed = {}
    for slug, shown in claims.items():
        if slug in request:
            if isinstance(shown, dict):
                shown = {name: shown[name] for name in request[slug] if name in shown}
            disclosed[slug] = shown
    full = evaluate(criteria, claims=claims, issuers=issuers, today=today)
    assert evaluate(criteria, claims=disclosed, issuers=issuers, today=today) == full


@settings(max_examples=200, deadline=None)
@given(criteria=criteria_documents())
def test_the_request_is_minimal(criteria):
    parsed = el.parse(criteria)
    request = presentation_request(criteria)
    read = {(r.credential, r.claim.name) for r in parsed.rules if r.claim is not None}
    for slug, names in request.items():
        for name in names:
            assert (slug, name) in read or (
                names == [MINIMAL_CLAIM[slug]] and not any(s == slug for s, _ in read)
            )
    assert set(request) == {r.credential for r in parsed.rules}


@settings(max_examples=200, deadline=None)
@given(criteria=criteria_documents())
def test_valid_documents_are_kept_as_written(criteria):
    assert el.validate(criteria) == criteria
    assert el.validate(el.validate(criteria)) == criteria
    assert describe(criteria)


@settings(max_examples=300, deadline=None)
@given(criteria=criteria_documents(), claims=json_values, issuers=json_values, today=days)
def test_arbitrary_claims_never_raise(criteria, claims, issuers, today):
    result = evaluate(criteria, claims=claims, issuers=issuers, today=today)
    data = json_logic_data(claims, issuers, today)
    assert apply_json_logic(to_json_logic(criteria), data) is result.eligible


@settings(max_examples=300, deadline=None)
@given(
    criteria=criteria_documents(), claims=claim_sets(), slot=st.sampled_from(list(CREDENTIAL_TYPES))
)
def test_arbitrary_values_under_a_credential_never_raise(criteria, claims, slot):
    for value in ([], "x", 0, None, {"x": {"y": 1}}):
        claims[slot] = value
        result = evaluate(criteria, claims=claims, issuers={}, today=TODAY)
        assert logic_says(criteria, claims) is result.eligible


@settings(max_examples=500, deadline=None)
@given(document=json_values)
def test_arbitrary_json_is_valid_criteria_or_invalid_criteria(document):
    try:
        el.parse(document)
    except InvalidCriteria as refused:
        assert refused.errors
        assert all(isinstance(error, str) and error for error in refused.errors)


@settings(max_examples=500, deadline=None)
@given(
    criteria=criteria_documents(),
    key=st.sampled_from(["credential", "claim", "op", "value", "currency", "all", "any", "x"]),
    junk=json_values,
    where=st.integers(0, 100),
)
def test_corrupted_documents_raise_only_invalid_criteria(criteria, key, junk, where):
    nodes = []

    def walk(node):
        nodes.append(node)
        for child in node.get("all", node.get("any", [])):
            walk(child)

    walk(criteria)
    nodes[where % len(nodes)][key] = junk
    try:
        parsed = el.parse(criteria)
    except InvalidCriteria:
        return
    to_json_logic(parsed)
    presentation_request(parsed)
    describe(parsed)
    evaluate(parsed, claims={}, issuers={}, today=TODAY)


def test_the_json_logic_uses_standard_operators_and_growrs_four():
    standard = {"and", "or", "!", "in", "===", "!==", "<", "<=", ">", ">=", "var"}
    growr = {"valid", "decimal", "age_at_least", "age_at_most"}
    seen = set()

    def walk(node):
        if isinstance(node, dict):
            ((op, args),) = node.items()
            seen.add(op)
            walk(args)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    every = [rule for rule, *_ in OPERATOR_CASES]
    walk(to_json_logic({"all": every, "issuers": {"monthly_income": [BANK]}}))
    assert seen <= standard | growr
    assert growr <= seen
