"""Growr's credential types, after the original Growr JSON schemas, one JSON Schema each.

Single-claim credentials are W3C VCs 1.1 with an Ed25519Signature2020 proof. KYC bundles several
personal claims, so it is an SD-JWT VC: the holder discloses it claim by claim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

import pycountry
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from jsonschema._keywords import enum as _linear_enum
from jsonschema.validators import extend

LDP = "ldp"
SD_JWT = "sd-jwt"
CREDENTIALS_V1_CONTEXT = "https://www.w3.org/2018/credentials/v1"
# Every term Growr uses falls under this vocabulary, so no claim can be left out of what the
# proof signs (JSON-LD drops terms its context does not define).
GROWR_CONTEXT = {"@vocab": "https://growr.xyz/vocab#"}
CREDENTIAL_CONTEXTS = [CREDENTIALS_V1_CONTEXT, GROWR_CONTEXT]
SCHEMA_BASE = "https://growr.xyz/schemas/credentials"

COUNTRY_CODES = sorted(c.alpha_2 for c in pycountry.countries)
CURRENCY_CODES = sorted(c.alpha_3 for c in pycountry.currencies)

_country = {"type": "string", "enum": COUNTRY_CODES}
# "(?!\n)$": Python's "$" also matches before a final newline, and ECMA regexes (the JSON Schema
# dialect) know no "\Z"; the lookahead makes both read the pattern the same way.
_date = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}(?!\n)$"}
_text = {"type": "string", "minLength": 1, "maxLength": 200}
DECIMAL_DIGITS = r"[0-9]{1,12}(\.[0-9]{1,4})?"
DECIMAL_PATTERN = rf"^{DECIMAL_DIGITS}(?!\n)$"
_decimal = {"type": "string", "pattern": DECIMAL_PATTERN}
_money = {
    "type": "object",
    "properties": {"amount": _decimal, "currency": {"type": "string", "enum": CURRENCY_CODES}},
    "required": ["amount", "currency"],
    "additionalProperties": False,
}
_count = {"type": "integer", "minimum": 0, "maximum": 10_000}


_ENUM_SETS: dict[int, tuple[list, frozenset | None]] = {}


def _string_enum(validator, enums, instance, schema):
    """`enum` by set lookup when every allowed value is a string (country and currency codes
    are checked in every credential of every presentation); jsonschema compares one by one."""
    known = _ENUM_SETS.get(id(enums))
    if known is None or known[0] is not enums:
        strings = all(isinstance(e, str) for e in enums)
        known = _ENUM_SETS[id(enums)] = (enums, frozenset(enums) if strings else None)
    if known[1] is None or not isinstance(instance, str):
        yield from _linear_enum(validator, enums, instance, schema)
    elif instance not in known[1]:
        yield ValidationError(f"{instance!r} is not one of the {len(enums)} allowed values")


ClaimsValidator = extend(Draft202012Validator, {"enum": _string_enum})


def _claims(properties: dict, required: list[str] | None = None) -> dict:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


@dataclass(frozen=True, eq=False)
class CredentialType:
    slug: str
    title: str
    vc_type: str
    format: str
    claims_schema: dict
    validity: timedelta | None
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def schema_id(self) -> str:
        return f"{SCHEMA_BASE}/{self.slug}/v1"

    @property
    def claim_names(self) -> list[str]:
        return list(self.claims_schema["properties"])

    @cached_property
    def validator(self) -> Draft202012Validator:
        return ClaimsValidator(self.claims_schema, format_checker=FormatChecker())

    def claim_errors(self, claims: object) -> list[str]:
        """What is wrong with CLAIMS, one message per problem, for forms and API answers."""
        messages = []
        for error in sorted(self.validator.iter_errors(claims), key=lambda e: list(e.path)):
            where = "/".join(str(p) for p in error.path)
            if error.validator == "enum":
                messages.append(f"{where}: {error.instance!r} is not a known code")
            else:
                messages.append(f"{where + ': ' if where else ''}{error.message}")
        return messages


CREDENTIAL_TYPES: dict[str, CredentialType] = {
    t.slug: t
    for t in [
        CredentialType(
            "age",
            "Age (date of birth)",
            "GrowrAgeCredential",
            LDP,
            _claims({"birthDate": _date}),
            None,
            "The holder's date of birth, so a project can ask for a minimum age.",
            {"birthDate": "Date of birth"},
        ),
        CredentialType(
            "citizenship",
            "Citizenship",
            "GrowrCitizenshipCredential",
            LDP,
            _claims({"citizenship": _country}),
            timedelta(days=5 * 365),
            "The country of citizenship (ISO 3166-1 alpha-2).",
            {"citizenship": "Country of citizenship"},
        ),
        CredentialType(
            "kyc",
            "KYC (identity check)",
            "GrowrKycCredential",
            SD_JWT,
            _claims(
                {
                    "given_name": _text,
                    "family_name": _text,
                    "birthdate": _date,
                    "nationality": _country,
                    "address": {"type": "string", "minLength": 1, "maxLength": 500},
                    "id_number": {"type": "string", "pattern": r"^[A-Za-z0-9 /-]{3,40}(?!\n)$"},
                }
            ),
            timedelta(days=2 * 365),
            "An identity check against documents, disclosed claim by claim.",
            {
                "given_name": "Given name",
                "family_name": "Family name",
                "birthdate": "Date of birth",
                "nationality": "Nationality",
                "address": "Address",
                "id_number": "ID document number",
            },
        ),
        CredentialType(
            "monthly_income",
            "Monthly income",
            "GrowrMonthlyIncomeCredential",
            LDP,
            _claims({"monthlyIncome": _money}),
            timedelta(days=365),
            "Average monthly income, checked against bank or mobile-money statements.",
            {"monthlyIncome": "Average monthly income"},
        ),
        CredentialType(
            "land_size",
            "Land size",
            "GrowrLandSizeCredential",
            LDP,
            _claims({"landSizeHectares": _decimal}),
            timedelta(days=2 * 365),
            "Land farmed by the holder, in hectares.",
            {"landSizeHectares": "Land size (hectares)"},
        ),
        CredentialType(
            "cooperative_membership",
            "Cooperative membership",
            "GrowrCooperativeMembershipCredential",
            LDP,
            _claims({"cooperative": _text, "memberSince": _date}),
            timedelta(days=365),
            "Membership of an agricultural or savings and credit cooperative.",
            {"cooperative": "Cooperative", "memberSince": "Member since"},
        ),
        CredentialType(
            "repayment_history",
            "Loan repayment history",
            "GrowrRepaymentHistoryCredential",
            LDP,
            _claims(
                {
                    "loansRepaid": _count,
                    "loansRepaidOnTime": _count,
                    "loansWrittenOff": _count,
                    "totalRepaid": _money,
                    "lastLoanClosedOn": _date,
                    "lastLoanAmountBand": _text,
                    "lastLoanInstallments": _count,
                    "lastLoanOnTimeRatio": _decimal,
                },
                required=["loansRepaid", "loansRepaidOnTime", "loansWrittenOff", "totalRepaid"],
            ),
            None,
            "Loans repaid through Growr originators, issued when a loan closes.",
            {
                "loansRepaid": "Loans repaid",
                "loansRepaidOnTime": "Repaid on time",
                "loansWrittenOff": "Written off",
                "totalRepaid": "Total repaid",
                "lastLoanClosedOn": "Last loan closed on",
                "lastLoanAmountBand": "Last loan's amount band",
                "lastLoanInstallments": "Last loan's installments",
                "lastLoanOnTimeRatio": "Last loan's installments paid on time (share)",
            },
        ),
    ]
}
TYPES_BY_VC_TYPE = {t.vc_type: t for t in CREDENTIAL_TYPES.values()}
SD_JWT_VCT = {t.schema_id: t for t in CREDENTIAL_TYPES.values() if t.format == SD_JWT}
