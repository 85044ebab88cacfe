"""Eligibility criteria of a project: rules over the claims of the credentials a borrower presents.

Plain Python (no Django), so the same code checks a borrower on any node.

The criteria document
---------------------
What a loan officer's form builder produces and edits, one JSON object:

    {"all": [node, ...],                          # or {"any": [...]}: the top-level group
     "issuers": {"monthly_income": ["did:key:z6Mk...", ...]}}    # optional, see below

    node  = group | rule
    group = {"all": [node, ...]}                  # every node is met
          | {"any": [node, ...]}                  # at least one node is met
    rule  = {"credential": "age", "claim": "birthDate", "op": "age_at_least", "value": 18}
          | {"credential": "monthly_income", "claim": "monthlyIncome.amount", "op": ">=",
             "value": "150.00", "currency": "KES"}
          | {"credential": "citizenship", "claim": "citizenship", "op": "in",
             "value": ["KE", "UG", "TZ"]}
          | {"credential": "kyc", "op": "present"}                   # holds a KYC credential
          | {"credential": "kyc", "claim": "nationality", "op": "present"}  # ...showing that claim

Groups are non-empty and nest at most MAX_DEPTH deep (the top-level group is depth 1); a document
has 1 to MAX_RULES rules. "issuers" maps a credential type that some rule uses to the DIDs this
project accepts for it; a type left out (or an empty list) accepts the node's trusted issuers,
which presentation verification already enforces.

Which operators apply depends on the kind of the claim (CLAIMS, OPERATORS_BY_KIND):

    date     birthDate, birthdate, memberSince, lastLoanClosedOn: age_at_least, age_at_most
             (whole years from the date to the evaluation day, value 0..150), and
             == != < <= > >= against a "YYYY-MM-DD" date
    country  citizenship, nationality: == != (an ISO 3166 alpha-2 code), in, not in (a list)
    text     given_name, family_name, address, id_number, cooperative: == != in, not in
    decimal  landSizeHectares: == != < <= > >= against a decimal string such as "2.5"
    money    monthlyIncome.amount, totalRepaid.amount: as decimal, plus "currency" (ISO 4217)
    count    loansRepaid, loansRepaidOnTime, loansWrittenOff: == != < <= > >= against an integer
    any      present: the claim is shown and readable; without "claim", the credential is held

Literal values are checked against the credential type's JSON Schema for that claim, so a rule
can only ask for something a credential can say. Anything else raises InvalidCriteria, whose
messages name the rule ("Rule 3 (Monthly income): ...").

JSON Logic
----------
to_json_logic() compiles a document to JSON Logic that uses the standard operators (and, or, !,
in, ===, !==, <, <=, >, >=, var) plus four Growr operations, all in OPERATIONS:

    {"valid": [value, kind]}              true when value is a well-formed claim of that kind
    {"decimal": value}                    a decimal string as an exact decimal number, else null
    {"age_at_least": [date, n, today]}    whole years from date to today >= n (false if either
    {"age_at_most": [date, n, today]}     date is malformed or date is after today)

Kinds for "valid": date ("YYYY-MM-DD", a real day), country (ISO 3166 alpha-2), text (a non-empty
string), decimal (a string of 1-12 digits, optionally "." and 1-4 more), count (a JSON integer
0..10000, not a boolean), money (an object with a decimal "amount" and an ISO 4217 "currency";
other keys are ignored) and credential (an object: the credential was presented).

Data: {"<type slug>": {claim: value}, "$today": "YYYY-MM-DD", "$issuers": {"<slug>": did}}, as
built by json_logic_data(); variables are dotted paths such as "age.birthDate". Each rule is
"valid" and its comparison (the age operations check their dates themselves), so a malformed or
missing claim makes the rule false under any operator: standard JSON Logic alone would find
null != "KE" true and ["KE"] == "KE" true. A rule on a type with an issuer list also needs
{"in": [{"var": "$issuers.<slug>"}, [dids]]}. Groups become "and" / "or".

Money and land sizes are decimal strings of up to 12 + 4 digits, more than a float holds exactly
(999999999999.9997 and 999999999999.9998 are the same float), so they are compared through
"decimal": the comparison operators in OPERATIONS compare two decimals exactly, and compare a
decimal with anything else as false. A node evaluating these rules with another JSON Logic
implementation registers the four operations and compares "decimal" values exactly. ISO dates
compare correctly as strings with the standard operators.

Ages: whole years, counting a birthday only once the day is reached; someone born on 29 February
turns a year older on 1 March in common years.

The library is panzi-json-logic: pure Python, no dependencies, the whole standard operator set
with json-logic-js semantics, and operations passed per call (OPERATIONS), so registering
Growr's changes nothing for other users of the library in the process.

Evaluation
----------
evaluate() answers eligible or not, and for each rule met / not met / missing credential /
missing claim / malformed claim with a plain reason, and what the borrower still needs. A
credential from an issuer the project does not accept counts as a missing credential. It never
raises on claims: a claim that cannot be read is a rule result. Its "met" agrees with the compiled
JSON Logic (the tests check this on random claims).

Presentation request
--------------------
presentation_request() asks for exactly the claims the rules read, so a presentation discloses
nothing more. "present" without a claim needs some claim to be asked for (a request names at
least one per type): MINIMAL_CLAIM of that type, and only when no other rule already reads a
claim of it. The request covers every alternative of "any" groups; required_credentials() says
which types every eligible borrower holds.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any

import pycountry
from json_logic import jsonLogic
from json_logic.builtins import BUILTINS, to_bool
from jsonschema import FormatChecker

from apps.identity.ssi.credential_types import (
    COUNTRY_CODES,
    CREDENTIAL_TYPES,
    CURRENCY_CODES,
    DECIMAL_DIGITS,
    DECIMAL_PATTERN,
    ClaimsValidator,
)

MAX_DEPTH = 4
MAX_RULES = 50
MAX_GROUPS = 4 * MAX_RULES
MAX_LIST = 250
MAX_ISSUERS = 20
MAX_YEARS = 150
MAX_ERRORS = 20

# Claim kinds.
DATE = "date"
COUNTRY = "country"
TEXT = "text"
DECIMAL = "decimal"
MONEY = "money"
COUNT = "count"
CREDENTIAL = "credential"  # the credential itself: "present" without a claim

PRESENT = "present"
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
MEMBERSHIP = ("in", "not in")
AGES = ("age_at_least", "age_at_most")
OPERATORS = (*COMPARISONS, *MEMBERSHIP, *AGES, PRESENT)
OPERATORS_BY_KIND: dict[str, tuple[str, ...]] = {
    DATE: (*AGES, *COMPARISONS, PRESENT),
    COUNTRY: ("==", "!=", *MEMBERSHIP, PRESENT),
    TEXT: ("==", "!=", *MEMBERSHIP, PRESENT),
    DECIMAL: (*COMPARISONS, PRESENT),
    MONEY: (*COMPARISONS, PRESENT),
    COUNT: (*COMPARISONS, PRESENT),
}
KIND_NAMES = {
    DATE: "a date",
    COUNTRY: "a country",
    TEXT: "a text",
    DECIMAL: "a number",
    MONEY: "an amount of money",
    COUNT: "a count",
}

# "present" without a claim still has to ask for one claim (a presentation request names at
# least one per type): the one that says least about the borrower, and only when no other rule
# already asks for a claim of that type. KYC: the nationality rather than a name, birth date,
# address or ID number; cooperative membership: since when rather than which cooperative (which
# can point at a small community); repayment history: a count rather than amounts or dates.
MINIMAL_CLAIM = {
    "age": "birthDate",
    "citizenship": "citizenship",
    "kyc": "nationality",
    "monthly_income": "monthlyIncome",
    "land_size": "landSizeHectares",
    "cooperative_membership": "memberSince",
    "repayment_history": "loansRepaid",
}

# How claims read in sentences, where the credential type's label does not.
_SUBJECTS = {
    "birthDate": "Date of birth",
    "birthdate": "Date of birth",
    "monthlyIncome": "Monthly income",
    "landSizeHectares": "Land size",
    "memberSince": "Membership start",
    "lastLoanClosedOn": "Last loan closed",
    "loansRepaid": "Loans repaid",
    "loansRepaidOnTime": "Loans repaid on time",
    "loansWrittenOff": "Loans written off",
}
_YEARS_SUBJECTS = {
    "birthDate": "Age",
    "birthdate": "Age",
    "memberSince": "Years of membership",
    "lastLoanClosedOn": "Years since the last loan closed",
}
_UNITS = {"landSizeHectares": "hectares"}

DECIMAL_RE = re.compile(DECIMAL_DIGITS)
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DID_RE = re.compile(r"did:[a-z0-9]+:[A-Za-z0-9._:%-]+")
MAX_DID = 500
_COUNTRIES = frozenset(COUNTRY_CODES)
_CURRENCIES = frozenset(CURRENCY_CODES)
_FORMATS = FormatChecker()


class InvalidCriteria(ValueError):
    """A criteria document that cannot be used; .errors has one plain message per problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


# -- claims --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Claim:
    """One claim a rule can test. For money, rules compare "<name>.amount" (the path)."""

    credential: str
    name: str
    path: str
    kind: str
    label: str
    schema: dict

    @property
    def subject(self) -> str:
        return _SUBJECTS.get(self.name, self.label)

    @property
    def years_subject(self) -> str:
        return _YEARS_SUBJECTS.get(self.name, f"Years since {self.subject.lower()}")

    @cached_property
    def _literal_validator(self):
        return ClaimsValidator(self.schema, format_checker=_FORMATS)

    def accepts(self, value: object) -> bool:
        """Whether VALUE is a value this claim can have (for rule literals): valid under the
        credential type's schema and readable the way claims are read (JSON Schema's "integer"
        admits 5.0)."""
        kind = DECIMAL if self.kind == MONEY else self.kind
        return _read(kind, value) is not None and self._literal_validator.is_valid(value)


def _kind(schema: dict) -> str:
    if schema.get("type") == "object" and set(schema.get("properties", ())) == {
        "amount",
        "currency",
    }:
        return MONEY
    if schema.get("format") == "date":
        return DATE
    if schema.get("enum") == COUNTRY_CODES:
        return COUNTRY
    if schema.get("type") == "integer":
        return COUNT
    if schema.get("type") == "string" and schema.get("pattern") == DECIMAL_PATTERN:
        return DECIMAL
    if schema.get("type") == "string":
        return TEXT
    raise LookupError(f"no eligibility kind for the claim schema {schema!r}")


def _claims() -> dict[tuple[str, str], Claim]:
    found = {}
    for slug, credential_type in CREDENTIAL_TYPES.items():
        for name, schema in credential_type.claims_schema["properties"].items():
            kind = _kind(schema)
            found[slug, name] = Claim(
                slug,
                name,
                f"{name}.amount" if kind == MONEY else name,
                kind,
                credential_type.labels.get(name, name),
                schema["properties"]["amount"] if kind == MONEY else schema,
            )
    return found


CLAIMS: dict[tuple[str, str], Claim] = _claims()
"""Every claim of every credential type, by (type slug, claim name)."""
_BY_PATH = {(c.credential, c.path): c for c in CLAIMS.values()}


def credential_name(slug: str) -> str:
    """ "Age", "KYC", "Monthly income": the credential type's title without its gloss."""
    return CREDENTIAL_TYPES[slug].title.split(" (")[0]


def _a(slug: str) -> str:
    name = credential_name(slug)
    return f"{'an' if name[0] in 'AEIOU' else 'a'} {name}"


def catalogue() -> list[dict]:
    """What a form builder offers: per credential type, its claims, their kinds and operators."""
    return [
        {
            "credential": slug,
            "name": credential_name(slug),
            "claims": [
                {
                    "claim": c.path,
                    "label": c.subject,
                    "kind": c.kind,
                    "operators": list(OPERATORS_BY_KIND[c.kind]),
                    "currency": c.kind == MONEY,
                }
                for c in CLAIMS.values()
                if c.credential == slug
            ],
        }
        for slug in CREDENTIAL_TYPES
    ]


# -- reading claim values (shared by evaluate() and the JSON Logic operations) --------------------


def _read_date(value: object) -> date | None:
    if not isinstance(value, str) or not DATE_RE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _read_decimal(value: object) -> Decimal | None:
    if isinstance(value, str) and DECIMAL_RE.fullmatch(value):
        return Decimal(value)
    return None


def _read_count(value: object) -> int | None:
    if type(value) is int and 0 <= value <= 10_000:
        return value
    return None


def _read_money(value: object) -> tuple[Decimal, str] | None:
    if not isinstance(value, dict):
        return None
    amount = _read_decimal(value.get("amount"))
    currency = value.get("currency")
    if amount is None or not isinstance(currency, str) or currency not in _CURRENCIES:
        return None
    return amount, currency


def _read(kind: str, value: object) -> Any:
    """VALUE as rules compare it, or None when it is not a well-formed claim of KIND."""
    if kind == DATE:
        return value if _read_date(value) is not None else None
    if kind == COUNTRY:
        return value if isinstance(value, str) and value in _COUNTRIES else None
    if kind == TEXT:
        return value if isinstance(value, str) and value else None
    if kind == DECIMAL:
        return _read_decimal(value)
    if kind == MONEY:
        return _read_money(value)
    if kind == COUNT:
        return _read_count(value)
    if kind == CREDENTIAL:
        return value if isinstance(value, dict) else None
    return None


def years_between(since: date, today: date) -> int:
    """Whole years from SINCE to TODAY: a year counts once its anniversary is reached (for 29
    February, on 1 March of a common year)."""
    return today.year - since.year - ((today.month, today.day) < (since.month, since.day))


def _years(since: object, today: object) -> int | None:
    since_date, today_date = _read_date(since), _read_date(today)
    if since_date is None or today_date is None or since_date > today_date:
        return None
    return years_between(since_date, today_date)


# -- the Growr JSON Logic operations --------------------------------------------------------------


def _op_valid(data=None, value=None, kind=None, *_ignored) -> bool:
    return isinstance(kind, str) and _read(kind, value) is not None


def _op_decimal(data=None, value=None, *_ignored) -> Decimal | None:
    return _read_decimal(value)


def _op_age(compare):
    def op(data=None, since=None, years=None, today=None, *_ignored) -> bool:
        age = _years(since, today)
        return age is not None and type(years) is int and compare(age, years)

    return op


def _exact(builtin, compare):
    """A comparison that compares two decimals exactly, a decimal and anything else as false,
    and leaves every other JSON value to the standard operator."""

    def op(data=None, a=None, b=None, *rest):
        if isinstance(a, Decimal) or isinstance(b, Decimal):
            return isinstance(a, Decimal) and isinstance(b, Decimal) and not rest and compare(a, b)
        return builtin(data, a, b, *rest)

    return op


OPERATIONS = {
    **BUILTINS,
    **{
        name: _exact(BUILTINS[name], compare)
        for name, compare in {
            "==": operator.eq,
            "===": operator.eq,
            "!=": operator.ne,
            "!==": operator.ne,
            "<": operator.lt,
            "<=": operator.le,
            ">": operator.gt,
            ">=": operator.ge,
        }.items()
    },
    "valid": _op_valid,
    "decimal": _op_decimal,
    "age_at_least": _op_age(operator.ge),
    "age_at_most": _op_age(operator.le),
}
"""The standard JSON Logic operations and Growr's: jsonLogic(logic, data, OPERATIONS)."""


def json_logic_data(claims: object, issuers: object, today: date) -> dict:
    """The data to evaluate compiled criteria against (see the module docstring)."""
    today = date(today.year, today.month, today.day)  # a datetime counts by its day
    data: dict[str, Any] = {}
    if isinstance(claims, Mapping):
        data.update({slug: claims[slug] for slug in CREDENTIAL_TYPES if slug in claims})
    data["$today"] = today.isoformat()
    if isinstance(issuers, Mapping):
        data["$issuers"] = {slug: issuers[slug] for slug in CREDENTIAL_TYPES if slug in issuers}
    else:
        data["$issuers"] = {}
    return data


def apply_json_logic(logic: object, data: object) -> bool:
    """Evaluate JSON Logic with Growr's operations; truthiness as JSON Logic defines it."""
    return to_bool(jsonLogic(logic, data, OPERATIONS))


# -- parsing and validation -----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Rule:
    number: int  # 1-based, in document order
    credential: str
    claim: Claim | None  # None: "present" without a claim
    op: str
    value: Any = None
    currency: str | None = None
    # A "present" rule names a money claim by its name or by its amount's path; either is kept.
    written_claim: str | None = None

    @property
    def document(self) -> dict:
        out: dict[str, Any] = {"credential": self.credential}
        if self.claim is not None:
            out["claim"] = self.written_claim or self.claim.path
        out["op"] = self.op
        if self.op != PRESENT:
            out["value"] = list(self.value) if isinstance(self.value, tuple) else self.value
        if self.currency is not None:
            out["currency"] = self.currency
        return out


@dataclass(frozen=True, eq=False)
class Group:
    mode: str  # "all" | "any"
    children: tuple[Rule | Group, ...]

    @property
    def document(self) -> dict:
        return {self.mode: [child.document for child in self.children]}


@dataclass(frozen=True, eq=False)
class Criteria:
    """A validated criteria document."""

    root: Group
    issuers: dict[str, tuple[str, ...]]
    rules: tuple[Rule, ...]

    @property
    def document(self) -> dict:
        """The normalized document (what to store)."""
        out = self.root.document
        if self.issuers:
            out["issuers"] = {slug: list(dids) for slug, dids in self.issuers.items()}
        return out


def _show(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str) and len(value) > 40:
        return repr(value[:37] + "...")
    if isinstance(value, int) and not -(10**30) < value < 10**30:
        return "a very large number"
    return repr(value)


def _join(items: list[str], last: str = "or") -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


class _Parser:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.rules: list[Rule] = []
        self.groups = 0

    def error(self, message: str) -> None:
        self.errors.append(message)
        if len(self.errors) >= MAX_ERRORS:
            raise InvalidCriteria(self.errors)

    def group(self, node: dict, mode: str, depth: int, where: str) -> Group | None:
        self.groups += 1
        if self.groups > MAX_GROUPS:
            self.error(f"The criteria have more than {MAX_GROUPS} groups")
            raise InvalidCriteria(self.errors)
        if depth > MAX_DEPTH:
            self.error(f"{where} nests groups more than {MAX_DEPTH} deep")
            return None
        items = node[mode]
        if not isinstance(items, list) or not items:
            self.error(f'{where}: "{mode}" takes a list of at least one rule or group')
            return None
        children = []
        for item in items:
            child = self.node(item, depth, where)
            if child is not None:
                children.append(child)
        return Group(mode, tuple(children))

    def node(self, node: object, depth: int, where: str) -> Rule | Group | None:
        if isinstance(node, dict) and "credential" not in node and "op" not in node:
            modes = [m for m in ("all", "any") if m in node]
            if len(modes) == 1 and len(node) == 1:
                return self.group(node, modes[0], depth + 1, f"A group in {where.lower()}")
        if isinstance(node, dict) and ("credential" in node or "op" in node):
            return self.rule(node)
        self.error(
            f'{where}: expected a rule ({{"credential": ..., "op": ...}}) or a group '
            f'({{"all": [...]}} or {{"any": [...]}}), not {_show(node)}'
        )
        return None

    def rule(self, node: dict) -> Rule | None:
        number = len(self.rules) + 1
        if number > MAX_RULES:
            self.error(f"The criteria have more than {MAX_RULES} rules")
            raise InvalidCriteria(self.errors)
        # Count it now so rule numbers follow the document even when this one is invalid.
        self.rules.append(None)  # type: ignore[arg-type]
        slug = node.get("credential")
        if not isinstance(slug, str) or slug not in CREDENTIAL_TYPES:
            known = ", ".join(CREDENTIAL_TYPES)
            self.error(f"Rule {number}: unknown credential type {_show(slug)} (one of {known})")
            return None
        name = f"Rule {number} ({credential_name(slug)})"
        unknown = sorted(set(node) - {"credential", "claim", "op", "value", "currency"}, key=str)
        if unknown:
            self.error(f"{name}: unknown key {_show(unknown[0])}")
            return None
        op = node.get("op")
        if not isinstance(op, str) or op not in OPERATORS:
            self.error(f"{name}: unknown operator {_show(op)} (one of {', '.join(OPERATORS)})")
            return None
        rule = self.present(node, slug, name, number) if op == PRESENT else None
        if op != PRESENT:
            rule = self.condition(node, slug, op, name, number)
        if rule is not None:
            self.rules[number - 1] = rule
        return rule

    def present(self, node: dict, slug: str, name: str, number: int) -> Rule | None:
        if "value" in node or "currency" in node:
            self.error(f'{name}: a "present" rule takes no value or currency')
            return None
        if "claim" not in node:
            return Rule(number, slug, None, PRESENT)
        claim = node["claim"]
        # Either the claim's name or, for money, its path ("monthlyIncome.amount") as the
        # catalogue offers it: both mean the claim is shown.
        found = (
            CLAIMS.get((slug, claim)) or _BY_PATH.get((slug, claim))
            if isinstance(claim, str)
            else None
        )
        if found is None:
            names = ", ".join(CREDENTIAL_TYPES[slug].claim_names)
            self.error(f"{name}: has no claim {_show(claim)} (one of {names})")
            return None
        return Rule(number, slug, found, PRESENT, written_claim=claim)

    def condition(self, node: dict, slug: str, op: str, name: str, number: int) -> Rule | None:
        path = node.get("claim")
        claim = _BY_PATH.get((slug, path)) if isinstance(path, str) else None
        if claim is None:
            paths = ", ".join(c.path for c in CLAIMS.values() if c.credential == slug)
            self.error(f'{name}: "{op}" needs a claim, one of {paths}, not {_show(path)}')
            return None
        if op not in OPERATORS_BY_KIND[claim.kind]:
            allowed = ", ".join(OPERATORS_BY_KIND[claim.kind])
            self.error(
                f'{name}: "{op}" does not apply to {claim.subject} ({KIND_NAMES[claim.kind]}); '
                f"use one of {allowed}"
            )
            return None
        currency = node.get("currency")
        if claim.kind == MONEY:
            if not isinstance(currency, str) or currency not in _CURRENCIES:
                self.error(
                    f"{name}: {claim.subject} needs a currency (an ISO 4217 code such as KES), "
                    f"not {_show(currency)}"
                )
                return None
        elif "currency" in node:
            self.error(f"{name}: only amounts of money take a currency")
            return None
        if "value" not in node:
            self.error(f'{name}: "{op}" needs a value')
            return None
        value = self.value(node["value"], claim, op, name)
        if value is None:
            return None
        return Rule(number, slug, claim, op, value, currency if claim.kind == MONEY else None)

    def value(self, value: object, claim: Claim, op: str, name: str) -> Any:
        if op in AGES:
            if type(value) is int and 0 <= value <= MAX_YEARS:
                return value
            self.error(f"{name}: the value must be a whole number of years from 0 to {MAX_YEARS}")
            return None
        if op in MEMBERSHIP:
            if (
                not isinstance(value, list)
                or not 0 < len(value) <= MAX_LIST
                or not all(claim.accepts(v) for v in value)
            ):
                self.error(
                    f"{name}: the value must be a list of 1 to {MAX_LIST} "
                    f"{_value_hint(claim, plural=True)}"
                )
                return None
            if len(set(value)) != len(value):
                self.error(f"{name}: the list repeats a value")
                return None
            return tuple(value)
        if not claim.accepts(value):
            self.error(f"{name}: the value must be {_value_hint(claim)}, not {_show(value)}")
            return None
        return value


def _value_hint(claim: Claim, plural: bool = False) -> str:
    hints = {
        DATE: ('a date such as "2024-01-31"', 'dates such as "2024-01-31"'),
        COUNTRY: ('an ISO country code such as "KE"', 'ISO country codes such as "KE"'),
        TEXT: (f"a valid {claim.label.lower()}", f"valid values of {claim.label.lower()}"),
        DECIMAL: ('a decimal string such as "2.5"', 'decimal strings such as "2.5"'),
        MONEY: ('an amount string such as "150.00"', 'amount strings such as "150.00"'),
        COUNT: ("a whole number from 0 to 10000", "whole numbers from 0 to 10000"),
    }
    return hints[claim.kind][plural]


def _parse_issuers(issuers: object, rules: list[Rule], parser: _Parser) -> dict:
    if not isinstance(issuers, dict):
        parser.error('"issuers" must map credential types to lists of issuer DIDs')
        return {}
    used = {rule.credential for rule in rules if rule is not None}
    out = {}
    for slug, dids in issuers.items():
        if slug not in CREDENTIAL_TYPES:
            parser.error(f'"issuers": unknown credential type {_show(slug)}')
            continue
        title = credential_name(slug)
        if slug not in used:
            parser.error(f'"issuers": no rule uses a {title} credential')
            continue
        if (
            not isinstance(dids, list)
            or len(dids) > MAX_ISSUERS
            or not all(
                isinstance(d, str) and len(d) <= MAX_DID and DID_RE.fullmatch(d) for d in dids
            )
        ):
            parser.error(f'"issuers": {title} takes a list of at most {MAX_ISSUERS} DIDs')
            continue
        if len(set(dids)) != len(dids):
            parser.error(f'"issuers": {title} lists an issuer twice')
            continue
        if dids:
            out[slug] = tuple(dids)
    return out


def parse(document: object) -> Criteria:
    """A criteria document, validated. Raises InvalidCriteria, and nothing else, on any input."""
    if isinstance(document, Criteria):
        return document
    parser = _Parser()
    if not isinstance(document, dict):
        raise InvalidCriteria(['The criteria must be an object such as {"all": [rules]}'])
    modes = [m for m in ("all", "any") if m in document]
    extra = sorted(set(document) - {"all", "any", "issuers"}, key=str)
    if len(modes) != 1 or extra:
        raise InvalidCriteria(
            ['The criteria must be {"all": [...]} or {"any": [...]}, with optional "issuers"']
        )
    root = parser.group(document, modes[0], 1, "The criteria")
    issuers = (
        _parse_issuers(document["issuers"], parser.rules, parser) if "issuers" in document else {}
    )
    if parser.errors or root is None:
        raise InvalidCriteria(parser.errors or ["The criteria have no rules"])
    return Criteria(root, issuers, tuple(parser.rules))


def validate(document: object) -> dict:
    """The normalized criteria document. Raises InvalidCriteria."""
    return parse(document).document


# -- JSON Logic -----------------------------------------------------------------------------------

_STRICT = {"==": "===", "!=": "!=="}


def _var(*parts: str) -> dict:
    return {"var": ".".join(parts)}


def _condition_logic(rule: Rule) -> dict:
    slug, claim = rule.credential, rule.claim
    if claim is None:
        return {"valid": [_var(slug), CREDENTIAL]}
    guard = {"valid": [_var(slug, claim.name), claim.kind]}
    if rule.op == PRESENT:
        return guard
    if rule.op in AGES:
        return {rule.op: [_var(slug, claim.name), rule.value, _var("$today")]}
    parts = [guard]
    subject: dict = _var(slug, claim.name)
    literal: Any = rule.value
    if claim.kind == MONEY:
        parts.append({"===": [_var(slug, claim.name, "currency"), rule.currency]})
        subject, literal = {"decimal": _var(slug, claim.path)}, {"decimal": rule.value}
    elif claim.kind == DECIMAL:
        subject, literal = {"decimal": subject}, {"decimal": rule.value}
    if rule.op == "in":
        parts.append({"in": [subject, list(rule.value)]})
    elif rule.op == "not in":
        parts.append({"!": {"in": [subject, list(rule.value)]}})
    else:
        parts.append({_STRICT.get(rule.op, rule.op): [subject, literal]})
    return {"and": parts}


def _rule_logic(rule: Rule, issuers: dict[str, tuple[str, ...]]) -> dict:
    condition = _condition_logic(rule)
    accepted = issuers.get(rule.credential)
    if not accepted:
        return condition
    issuer = {"in": [_var("$issuers", rule.credential), list(accepted)]}
    if "and" in condition:
        return {"and": [issuer, *condition["and"]]}
    return {"and": [issuer, condition]}


def _node_logic(node: Rule | Group, issuers: dict) -> dict:
    if isinstance(node, Rule):
        return _rule_logic(node, issuers)
    return {"and" if node.mode == "all" else "or": [_node_logic(c, issuers) for c in node.children]}


def to_json_logic(criteria: object) -> dict:
    """The criteria as JSON Logic over json_logic_data(); evaluate with OPERATIONS."""
    parsed = parse(criteria)
    return _node_logic(parsed.root, parsed.issuers)


# -- presentation request -------------------------------------------------------------------------


def presentation_request(criteria: object) -> dict[str, list[str]]:
    """{credential type: [claim names]}: exactly the claims the rules read. A "present" rule
    without a claim adds MINIMAL_CLAIM of its type only when no other rule asks for a claim of
    that type."""
    parsed = parse(criteria)
    request: dict[str, set[str]] = {}
    for rule in parsed.rules:
        if rule.claim is not None:
            request.setdefault(rule.credential, set()).add(rule.claim.name)
    for rule in parsed.rules:
        if rule.claim is None and rule.credential not in request:
            request[rule.credential] = {MINIMAL_CLAIM[rule.credential]}
    return {slug: sorted(names) for slug, names in sorted(request.items())}


def required_credentials(criteria: object) -> list[str]:
    """The credential types every eligible borrower holds (an "any" group needs only one of its
    alternatives, so its types are required only when every alternative needs them)."""

    def needs(node: Rule | Group) -> set[str]:
        if isinstance(node, Rule):
            return {node.credential}
        sets = [needs(child) for child in node.children]
        return set.union(*sets) if node.mode == "all" else set.intersection(*sets)

    return sorted(needs(parse(criteria).root))


# -- describing -----------------------------------------------------------------------------------

_RELATIONS = {
    # op: (describe, met, not met)
    ">=": ("at least", "is at least", "is below"),
    ">": ("above", "is above", "is not above"),
    "<=": ("at most", "is at most", "is above"),
    "<": ("below", "is below", "is not below"),
    "==": ("is", "is", "is not"),
    "!=": ("is not", "is not", "is"),
    "in": ("is one of", "is one of", "is not one of"),
    "not in": ("is none of", "is none of", "is one of"),
    "age_at_least": ("at least", "is at least", "is below"),
    "age_at_most": ("at most", "is at most", "is above"),
}
_DATE_RELATIONS = {
    ">=": ("on or after", "is on or after", "is before"),
    ">": ("after", "is after", "is not after"),
    "<=": ("on or before", "is on or before", "is after"),
    "<": ("before", "is before", "is not before"),
}


def _relation(rule: Rule) -> tuple[str, str, str]:
    if rule.claim is not None and rule.claim.kind == DATE and rule.op in _DATE_RELATIONS:
        return _DATE_RELATIONS[rule.op]
    return _RELATIONS[rule.op]


def _country(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return getattr(country, "common_name", None) or country.name


def _display(rule: Rule, value: Any, currency: str | None = None) -> str:
    """A claim value or rule literal as a person reads it."""
    claim = rule.claim
    if claim is None:
        return str(value)
    if rule.op in AGES:
        return str(value)
    if isinstance(value, tuple | list):
        return _join([_display(rule, v) for v in value])
    if claim.kind == COUNTRY:
        return _country(value)
    if claim.kind == MONEY:
        return f"{value} {currency or rule.currency}"
    if claim.name in _UNITS:
        return f"{value} {_UNITS[claim.name]}"
    return str(value)


def _subject(rule: Rule) -> str:
    return rule.claim.years_subject if rule.op in AGES else rule.claim.subject


def _describe_rule(rule: Rule) -> str:
    source = f"from {_a(rule.credential)} credential"
    if rule.claim is None:
        article = _a(rule.credential)
        return f"{article[0].upper()}{article[1:]} credential"
    if rule.op == PRESENT:
        return f"{rule.claim.subject} shown ({source})"
    relation = _relation(rule)[0]
    return f"{_subject(rule)} {relation} {_display(rule, rule.value)} ({source})"


def describe(criteria: object, issuer_names: Mapping[str, str] | None = None) -> list[str]:
    """Plain-language lines for a project page; nested groups are indented by two spaces."""
    parsed = parse(criteria)
    lines: list[str] = []

    def walk(node: Rule | Group, indent: str) -> None:
        if isinstance(node, Rule):
            lines.append(indent + _describe_rule(node))
            return
        lines.append(indent + ("All of:" if node.mode == "all" else "Any one of:"))
        for child in node.children:
            walk(child, indent + "  ")

    if parsed.root.mode == "all":
        for child in parsed.root.children:
            walk(child, "")
    else:
        walk(parsed.root, "")
    names = issuer_names or {}
    for slug, dids in parsed.issuers.items():
        accepted = _join([names.get(did, did) for did in dids])
        lines.append(f"{credential_name(slug)} credentials issued by {accepted}")
    return lines


# -- evaluating -----------------------------------------------------------------------------------

MET = "met"
NOT_MET = "not_met"
MISSING_CREDENTIAL = "missing_credential"
MISSING_CLAIM = "missing_claim"
MALFORMED_CLAIM = "malformed_claim"
_WANTING = (MISSING_CREDENTIAL, MISSING_CLAIM, MALFORMED_CLAIM)


@dataclass(frozen=True)
class RuleResult:
    number: int
    credential: str
    claim: str | None  # the rule's claim path, None for "present" without a claim
    op: str
    status: str  # MET, NOT_MET, MISSING_CREDENTIAL, MISSING_CLAIM or MALFORMED_CLAIM
    reason: str

    @property
    def met(self) -> bool:
        return self.status == MET


@dataclass(frozen=True)
class Evaluation:
    eligible: bool
    rules: tuple[RuleResult, ...]
    needed: dict[str, list[str]]
    """{credential type: [claim names]} the borrower still needs to show (or hold) for the
    groups not met; under an "any" group, any one alternative would do."""

    @property
    def reasons(self) -> list[str]:
        """Why the rules not met are not met."""
        return [r.reason for r in self.rules if not r.met]


def _evaluate_rule(rule: Rule, parsed: Criteria, claims: Mapping, issuers: Mapping, today: date):
    slug, claim = rule.credential, rule.claim
    name = credential_name(slug)
    path = None if claim is None else (claim.name if rule.op == PRESENT else claim.path)

    def result(status: str, reason: str) -> RuleResult:
        return RuleResult(rule.number, slug, path, rule.op, status, reason)

    accepted = parsed.issuers.get(slug)
    if slug not in claims:
        suffix = " from an issuer this project accepts" if accepted else ""
        return result(MISSING_CREDENTIAL, f"You need {_a(slug)} credential{suffix}")
    if accepted:
        issuer = issuers.get(slug)
        if not isinstance(issuer, str) or issuer not in accepted:
            return result(
                MISSING_CREDENTIAL,
                f"Your {name} credential is not from an issuer this project accepts",
            )
    shown = claims[slug]
    if not isinstance(shown, dict):
        return result(MALFORMED_CLAIM, f"Your {name} credential cannot be read")
    if claim is None:
        return result(MET, f"You have {_a(slug)} credential")
    if claim.name not in shown:
        return result(
            MISSING_CLAIM,
            f"You need to show the {claim.subject.lower()} from your {name} credential",
        )
    raw = shown[claim.name]
    unreadable = f"The {claim.subject.lower()} in your {name} credential cannot be read"
    if rule.op in AGES:
        years = _years(raw, today.isoformat())
        if years is None:
            return result(MALFORMED_CLAIM, unreadable)
        ok = years >= rule.value if rule.op == "age_at_least" else years <= rule.value
        return _compared(result, rule, ok, str(years))
    value = _read(claim.kind, raw)
    if value is None:
        return result(MALFORMED_CLAIM, unreadable)
    if rule.op == PRESENT:
        return result(MET, f"Your {name} credential shows the {claim.subject.lower()}")
    if claim.kind == MONEY:
        amount, currency = value
        if currency != rule.currency:
            return result(
                NOT_MET,
                f"{claim.subject} is in {currency}, but this project asks for {rule.currency}",
            )
        return _compared(
            result,
            rule,
            _COMPARE[rule.op](amount, Decimal(rule.value)),
            _display(rule, raw["amount"], currency),
        )
    if claim.kind == DECIMAL:
        ok = _COMPARE[rule.op](value, Decimal(rule.value))
    elif rule.op in MEMBERSHIP:
        ok = (value in rule.value) == (rule.op == "in")
    else:
        ok = _COMPARE[rule.op](value, rule.value)
    return _compared(result, rule, ok, _display(rule, raw))


_COMPARE = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _compared(result, rule: Rule, ok: bool, actual: str) -> RuleResult:
    _, met, not_met = _relation(rule)
    expected = _display(rule, rule.value)
    if not ok and rule.op in ("!=", "not in"):
        return result(NOT_MET, f"{_subject(rule)} is {actual}, which this project does not accept")
    relation = met if ok else not_met
    return result(MET if ok else NOT_MET, f"{_subject(rule)} {actual} {relation} {expected}")


def evaluate(criteria: object, *, claims: object, issuers: object, today: date) -> Evaluation:
    """Check a borrower's disclosed CLAIMS ({type slug: {claim: value}}, as
    VerifiedPresentation.disclosed gives them) and the ISSUERS of their credentials ({type slug:
    issuer DID}) against CRITERIA on TODAY. Raises InvalidCriteria for invalid criteria, never
    for claims."""
    parsed = parse(criteria)
    today = date(today.year, today.month, today.day)  # a datetime counts by its day
    claims = claims if isinstance(claims, Mapping) else {}
    issuers = issuers if isinstance(issuers, Mapping) else {}
    results: dict[int, RuleResult] = {}
    for rule in parsed.rules:
        results[rule.number] = _evaluate_rule(rule, parsed, claims, issuers, today)
    request = presentation_request(parsed)
    needed: dict[str, set[str]] = {}

    def met(node: Rule | Group) -> bool:
        if isinstance(node, Rule):
            return results[node.number].met
        outcomes = [met(child) for child in node.children]
        return all(outcomes) if node.mode == "all" else any(outcomes)

    def collect(node: Rule | Group) -> None:
        if met(node):
            return
        if isinstance(node, Group):
            for child in node.children:
                collect(child)
            return
        status = results[node.number].status
        if status == MISSING_CREDENTIAL or (status in _WANTING and node.claim is None):
            needed.setdefault(node.credential, set()).update(request[node.credential])
        elif status in _WANTING:
            needed.setdefault(node.credential, set()).add(node.claim.name)

    collect(parsed.root)
    return Evaluation(
        eligible=met(parsed.root),
        rules=tuple(results[rule.number] for rule in parsed.rules),
        needed={slug: sorted(names) for slug, names in sorted(needed.items())},
    )
