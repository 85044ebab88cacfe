"""Repayment schedules in plain Python, with no Django import (DESIGN §8, reference/lending.md §c).

A `LoanTerms` value holds everything a schedule depends on and refuses terms that make no sense
(`InvalidTerms`, naming the field). `build_schedule(terms)` turns it into a `Schedule`: the
disbursement fee, then one row per installment with its due date, principal, interest, fee,
total due and the principal still owed after it.

Money is `Decimal`, always at exactly the currency's ISO 4217 minor units (`minor_units`). Rates
and quotients are exact rationals (`fractions.Fraction`) until an amount is rounded, so no
precision setting and no float can change a schedule; every amount is rounded once, half to even
(Fineract's default rounding mode), and the residue of that rounding goes into the last
installment, so the principal column sums exactly to the principal and a flat loan's interest
column to its total flat interest (lending.md c4, c5).

The model, in short (the docstrings of `LoanTerms` and `build_schedule` say more):

* Term. Weekly, biweekly and monthly loans count `installments`, one per period; a bullet loan
  is repaid in one installment `duration_days` after disbursement (e.g. at the end of a season).
* Periodic rate. `annual_rate` is a nominal percentage per year. A period's rate is
  annual / 100 / periods in a year (52, 26, 12); a bullet loan's is annual / 100 * days / 365.
* Grace. `grace_periods` are principal grace: the first installments carry interest only and the
  principal is repaid over the remaining installments.
* Fee. A disbursement fee (a percentage of the principal plus a fixed amount) is due on the day
  of disbursement, in its own row numbered 0. It is not financed and bears no interest.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from fractions import Fraction
from types import MappingProxyType
from typing import TypeVar

import pycountry

DEFAULT_MINOR_UNITS = 2

# ISO 4217 currencies whose minor unit is not 2.
_MINOR_UNITS_OTHER_THAN_TWO = {
    **dict.fromkeys(
        (
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
            "VND", "VUV", "XAF", "XOF", "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}  # fmt: skip

# Codes whose minor unit ISO 4217 gives as "N.A.": precious metals, bond-market units, the SDR,
# the testing code and "no currency". Nothing can be lent in them.
NOT_LENDING_CURRENCIES = frozenset(
    {
        "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX",
    }
)  # fmt: skip

CURRENCY_MINOR_UNITS: Mapping[str, int] = MappingProxyType(
    {
        currency.alpha_3: _MINOR_UNITS_OTHER_THAN_TWO.get(currency.alpha_3, DEFAULT_MINOR_UNITS)
        for currency in pycountry.currencies
        if currency.alpha_3 not in NOT_LENDING_CURRENCIES
    }
)
"""Minor units (digits after the decimal point) of every ISO 4217 currency one can lend in."""

DAYS_IN_YEAR = 365

# Sanity limits, not product rules: a project sets its own amounts and durations within them.
MAX_PRINCIPAL = Decimal(10) ** 15
MAX_ANNUAL_RATE = Decimal(1000)
MAX_INSTALLMENTS = 1000
MAX_DURATION_DAYS = 3660

ZERO = Decimal(0)

# Sums and differences of money amounts must be exact; this context makes sure they are.
_EXACT = Context(
    prec=60,
    rounding=ROUND_HALF_EVEN,
    traps=[Inexact, InvalidOperation, Overflow, DivisionByZero],
)


class InvalidTerms(ValueError):
    """Loan terms that cannot make a schedule; `field` names the offending term."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class UnknownCurrency(InvalidTerms):
    """A currency code that is not an ISO 4217 currency one can lend in."""

    def __init__(self, message: str) -> None:
        super().__init__("currency", message)


class InterestMethod(enum.StrEnum):
    FLAT = "flat"
    """Interest on the original principal for the whole term, spread evenly over installments."""
    DECLINING_EQUAL_INSTALLMENTS = "declining_equal_installments"
    """Interest on the balance; equal installments (annuity, EMI) once principal is due."""
    DECLINING_EQUAL_PRINCIPAL = "declining_equal_principal"
    """Interest on the balance; equal principal parts, so installments fall over time."""


class Frequency(enum.StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"
    BULLET = "bullet"
    """One repayment of principal and interest at the end of the term."""

    @property
    def periods_in_year(self) -> int | None:
        """52, 26 or 12; None for a bullet loan, whose single period is counted in days."""
        return _PERIODS_IN_YEAR.get(self)


_PERIODS_IN_YEAR = {Frequency.WEEKLY: 52, Frequency.BIWEEKLY: 26, Frequency.MONTHLY: 12}
_PERIOD_DAYS = {Frequency.WEEKLY: 7, Frequency.BIWEEKLY: 14}
_E = TypeVar("_E", InterestMethod, Frequency)


def minor_units(currency: str) -> int:
    """Digits after the decimal point of an ISO 4217 currency: 2 for most, 0 for e.g. UGX and
    XOF, 3 for e.g. KWD. Raises UnknownCurrency for anything that is not a currency code in
    capitals or that ISO 4217 gives no minor unit (gold, the SDR, XXX)."""
    if not isinstance(currency, str):
        raise UnknownCurrency(f"currency must be an ISO 4217 code such as 'KES', not {currency!r}")
    units = CURRENCY_MINOR_UNITS.get(currency)
    if units is not None:
        return units
    if currency in NOT_LENDING_CURRENCIES:
        raise UnknownCurrency(
            f"{currency} has no minor unit in ISO 4217 (a metal, fund or testing code); "
            "nothing can be lent in it"
        )
    hint = " (codes are written in capitals)" if currency.upper() in CURRENCY_MINOR_UNITS else ""
    raise UnknownCurrency(f"{currency!r} is not an ISO 4217 currency code{hint}")


@dataclass(frozen=True, kw_only=True)
class LoanTerms:
    """The terms a repayment schedule is built from; constructing one validates them.

    principal: the amount lent, at most the currency's minor units (e.g. Decimal("1000.00")).
    currency: ISO 4217 code in capitals.
    annual_rate: nominal interest rate in percent per year (Decimal("24") is 24 %); 0 is allowed.
    method, frequency: see InterestMethod and Frequency (their string values are accepted too).
    disbursed_on: the day the money is paid out; installments fall due from it.
    installments: the number of repayment periods of a weekly, biweekly or monthly loan (one
        installment per period, the first one period after disbursement). Not given for a bullet.
    duration_days: the term of a bullet loan in days; its single installment is due that many
        days after disbursement. Not given for other frequencies.
    grace_periods: principal grace: the first N installments carry interest only; principal is
        repaid over the remaining installments. Must leave at least one installment.
    fee_percent, fee_fixed: the disbursement fee is principal * fee_percent / 100 (rounded) plus
        fee_fixed, due on the day of disbursement. It must be less than the principal.
    """

    principal: Decimal
    currency: str
    annual_rate: Decimal
    method: InterestMethod
    frequency: Frequency
    disbursed_on: date
    installments: int | None = None
    duration_days: int | None = None
    grace_periods: int = 0
    fee_percent: Decimal = ZERO
    fee_fixed: Decimal = ZERO

    def __post_init__(self) -> None:
        places = minor_units(self.currency)
        _check_money("principal", self.principal, places)
        if self.principal <= 0:
            raise InvalidTerms("principal", "principal must be more than zero")
        if self.principal > MAX_PRINCIPAL:
            raise InvalidTerms("principal", f"principal must not exceed {MAX_PRINCIPAL:,}")
        _check_decimal("annual_rate", self.annual_rate)
        if not 0 <= self.annual_rate <= MAX_ANNUAL_RATE:
            raise InvalidTerms(
                "annual_rate", f"annual_rate must be between 0 and {MAX_ANNUAL_RATE} percent"
            )
        object.__setattr__(self, "method", _member(InterestMethod, "method", self.method))
        object.__setattr__(self, "frequency", _member(Frequency, "frequency", self.frequency))
        if not isinstance(self.disbursed_on, date) or isinstance(self.disbursed_on, datetime):
            raise InvalidTerms("disbursed_on", "disbursed_on must be a date (not a datetime)")
        self._check_term()
        grace = self.grace_periods
        if not _is_int(grace) or grace < 0:
            raise InvalidTerms("grace_periods", "grace_periods must be a whole number, 0 or more")
        if grace >= self.number_of_installments:
            raise InvalidTerms(
                "grace_periods",
                f"grace_periods ({grace}) must be fewer than the installments "
                f"({self.number_of_installments}): at least one installment repays principal",
            )
        _check_decimal("fee_percent", self.fee_percent)
        if not 0 <= self.fee_percent < 100:
            raise InvalidTerms("fee_percent", "fee_percent must be at least 0 and below 100")
        _check_money("fee_fixed", self.fee_fixed, places)
        if self.fee_fixed < 0:
            raise InvalidTerms("fee_fixed", "fee_fixed must not be negative")
        if self.disbursement_fee >= self.principal:
            field = "fee_fixed" if self.fee_fixed else "fee_percent"
            raise InvalidTerms(field, "the disbursement fee must be less than the principal")

    def _check_term(self) -> None:
        if self.frequency is Frequency.BULLET:
            if self.installments is not None:
                raise InvalidTerms(
                    "installments",
                    "a bullet loan has one installment: give duration_days, not installments",
                )
            if not _is_int(self.duration_days) or not 1 <= self.duration_days <= MAX_DURATION_DAYS:
                raise InvalidTerms(
                    "duration_days",
                    f"a bullet loan needs duration_days, a whole number of days from 1 to "
                    f"{MAX_DURATION_DAYS}",
                )
        else:
            if self.duration_days is not None:
                raise InvalidTerms(
                    "duration_days",
                    f"a {self.frequency} loan counts installments: give installments, "
                    "not duration_days",
                )
            if not _is_int(self.installments) or not 1 <= self.installments <= MAX_INSTALLMENTS:
                raise InvalidTerms(
                    "installments",
                    f"a {self.frequency} loan needs installments, a whole number from 1 to "
                    f"{MAX_INSTALLMENTS}",
                )
        try:
            self.due_date(self.number_of_installments)
        except OverflowError:
            raise InvalidTerms(
                "disbursed_on", "the last installment would fall due after the year 9999"
            ) from None

    @property
    def minor_units(self) -> int:
        return minor_units(self.currency)

    @property
    def number_of_installments(self) -> int:
        """The installments of a periodic loan; 1 for a bullet loan."""
        # __post_init__ allows no installments for a bullet loan and requires them otherwise.
        return 1 if self.installments is None else self.installments

    @property
    def periodic_rate(self) -> Fraction:
        """The exact interest rate of one installment period, as a fraction (0.02 for 24 % a
        year paid monthly); for a bullet loan the rate of its whole term."""
        annual = Fraction(self.annual_rate) / 100
        if self.frequency is Frequency.BULLET:
            return annual * self.duration_days / DAYS_IN_YEAR
        return annual / self.frequency.periods_in_year

    @property
    def disbursement_fee(self) -> Decimal:
        """principal * fee_percent / 100, rounded half to even, plus fee_fixed."""
        percent_part = _round_money(
            Fraction(self.principal) * Fraction(self.fee_percent) / 100, self.minor_units
        )
        with localcontext(_EXACT):
            return percent_part + _quantize(self.fee_fixed, self.minor_units)

    def due_date(self, number: int) -> date:
        """The due date of installment `number` (1-based): every 7 or 14 days; monthly on the
        day of the month of disbursement, or the month's last day when it is shorter (Jan 31 →
        Feb 28 or 29 → Mar 31); a bullet loan's after duration_days."""
        start = self.disbursed_on
        if self.frequency is Frequency.BULLET:
            return start + timedelta(days=self.duration_days)
        if self.frequency is Frequency.MONTHLY:
            years, month_index = divmod(start.month - 1 + number, 12)
            year = start.year + years
            if year > date.max.year:
                raise OverflowError("date out of range")
            last_day = calendar.monthrange(year, month_index + 1)[1]
            return date(year, month_index + 1, min(start.day, last_day))
        return start + timedelta(days=_PERIOD_DAYS[self.frequency] * number)

    @property
    def maturity_date(self) -> date:
        return self.due_date(self.number_of_installments)


@dataclass(frozen=True, kw_only=True)
class ScheduleRow:
    """One line of a schedule. Row 0 is the disbursement fee; rows 1… are the installments."""

    number: int
    due_on: date
    principal: Decimal
    interest: Decimal
    fee: Decimal
    balance: Decimal
    """Principal still owed once this row is paid."""

    @property
    def total_due(self) -> Decimal:
        with localcontext(_EXACT):
            return self.principal + self.interest + self.fee


@dataclass(frozen=True, kw_only=True)
class Schedule:
    terms: LoanTerms
    disbursement_fee: Decimal
    installments: tuple[ScheduleRow, ...]

    @property
    def rows(self) -> tuple[ScheduleRow, ...]:
        """The table to show: the disbursement fee as row 0 (when there is one), then the
        installments."""
        if not self.disbursement_fee:
            return self.installments
        fee_row = ScheduleRow(
            number=0,
            due_on=self.terms.disbursed_on,
            principal=self._zero,
            interest=self._zero,
            fee=self.disbursement_fee,
            balance=_quantize(self.terms.principal, self.terms.minor_units),
        )
        return (fee_row, *self.installments)

    @property
    def _zero(self) -> Decimal:
        return _round_money(Fraction(0), self.terms.minor_units)

    def _sum(self, column: str) -> Decimal:
        with localcontext(_EXACT):
            return sum((getattr(row, column) for row in self.rows), self._zero)

    @property
    def total_principal(self) -> Decimal:
        return self._sum("principal")

    @property
    def total_interest(self) -> Decimal:
        return self._sum("interest")

    @property
    def total_fees(self) -> Decimal:
        return self._sum("fee")

    @property
    def total_cost(self) -> Decimal:
        """What the loan costs the borrower: interest plus fees."""
        with localcontext(_EXACT):
            return self.total_interest + self.total_fees

    @property
    def total_repaid(self) -> Decimal:
        """Everything the borrower pays: principal, interest and fees."""
        with localcontext(_EXACT):
            return self.total_principal + self.total_cost

    @property
    def maturity_date(self) -> date:
        return self.installments[-1].due_on

    @property
    def cash_flows(self) -> tuple[tuple[date, Decimal], ...]:
        """The borrower's cash flows, for an effective rate (XIRR): the principal less the fee
        received on the day of disbursement, then each installment paid (negative)."""
        with localcontext(_EXACT):
            received = (self.terms.disbursed_on, self.terms.principal - self.disbursement_fee)
            return (received, *((row.due_on, -row.total_due) for row in self.installments))


def build_schedule(terms: LoanTerms) -> Schedule:
    """The repayment schedule of `terms` (lending.md §c).

    n installments, the first g of them principal grace, m = n - g repaying principal, periodic
    rate r; every amount rounded half to even to the currency's minor units:

    * flat: total interest I = P * r * n; each installment's interest is I / n and, after the
      grace, its principal P / m;
    * declining, equal installments: interest is the balance * r; in grace the installment is
      that interest alone, afterwards the EMI P * r / (1 - (1 + r)^-m) (P / m when r = 0), whose
      principal part is the EMI less the interest;
    * declining, equal principal: principal P / m after the grace, interest the balance * r.

    The last installment takes the rounding residue: its principal is whatever is still owed and
    a flat loan's interest whatever is left of I. Should rounding up ever reach the whole amount
    before the last installment (tiny amounts over many installments), later installments are cut
    to what is left, as Fineract does, so no amount and no balance is ever negative.
    """
    places = terms.minor_units
    n = terms.number_of_installments
    grace = terms.grace_periods
    amortizing = n - grace
    rate = terms.periodic_rate
    principal = Fraction(terms.principal)

    def money(value: Fraction) -> Decimal:
        return _round_money(value, places)

    zero = money(Fraction(0))
    flat_total_interest = money(principal * rate * n)
    flat_interest = money(Fraction(flat_total_interest) / n)
    equal_principal = money(principal / amortizing)
    if rate:
        growth = (1 + rate) ** amortizing
        emi = money(principal * rate * growth / (growth - 1))
    else:
        emi = equal_principal

    rows = []
    with localcontext(_EXACT):
        balance = _quantize(terms.principal, places)
        interest_due = flat_total_interest
        for number in range(1, n + 1):
            last = number == n
            if terms.method is InterestMethod.FLAT:
                interest = interest_due if last else min(flat_interest, interest_due)
                interest_due -= interest
            else:
                interest = money(Fraction(balance) * rate)
            if number <= grace:
                principal_part = zero
            elif last:
                principal_part = balance
            elif terms.method is InterestMethod.DECLINING_EQUAL_INSTALLMENTS:
                principal_part = min(max(emi - interest, zero), balance)
            else:
                principal_part = min(equal_principal, balance)
            balance -= principal_part
            rows.append(
                ScheduleRow(
                    number=number,
                    due_on=terms.due_date(number),
                    principal=principal_part,
                    interest=interest,
                    fee=zero,
                    balance=balance,
                )
            )
    return Schedule(terms=terms, disbursement_fee=terms.disbursement_fee, installments=tuple(rows))


def _round_money(value: Fraction, places: int) -> Decimal:
    """`value` rounded half to even to `places` decimals, exactly that many."""
    scaled = round(value * 10**places)  # Fraction rounds half to even
    digits = tuple(int(digit) for digit in str(abs(scaled)))
    return Decimal((int(scaled < 0), digits, -places))


def _quantize(amount: Decimal, places: int) -> Decimal:
    """An amount already checked to have at most `places` decimals, written with exactly that
    many (Decimal("1000") → Decimal("1000.00"))."""
    return _round_money(Fraction(amount), places)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_decimal(field: str, value: object) -> None:
    if not isinstance(value, Decimal):
        raise InvalidTerms(field, f"{field} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise InvalidTerms(field, f"{field} must be a number, not {value}")


def _check_money(field: str, value: object, places: int) -> None:
    _check_decimal(field, value)
    if (Fraction(value) * 10**places).denominator != 1:
        raise InvalidTerms(field, f"{field} {value} has more decimals than the currency's {places}")


def _member(kind: type[_E], field: str, value: object) -> _E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidTerms(field, f"{field} must be one of {allowed}, not {value!r}") from None
