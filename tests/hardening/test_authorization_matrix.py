"""Who reaches what: every URL of the node, asked by every kind of person.

Wanjiru (borrower) and Ines (investor) own the objects in the paths; Otieno and Pablo are a
borrower and an investor who do not. Juma is Kijani's agent and Amina its admin; Kwame is the
admin of Amani Savings, another originator on the same node, and must see nothing of Kijani's.
Ngozi operates the node from Django's admin. Anonymous is anyone on the internet.

The URLs come from the resolver, so a new URL without a row here fails the test: whoever adds
a page decides who may see it. Pages are asked with GET; for the actions behind forms and the
API's writes, only the refusals are asked (a refused POST must change nothing, so asking is
safe; an allowed one would do what it does).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from apps.projects.services import project_create
from tests.hardening.urls import PATHS, Route, admin_path, all_routes
from tests.projects.conftest import goat_terms

# What a person gets.
OK = "ok"  # 2xx
MOVED = "moved"  # 3xx to another page of the same area
LOGIN = "login"  # 302 to the login page
ADMIN_LOGIN = "admin login"  # 302 to the admin's login page
UNAUTHENTICATED = "401"
DENIED = "403"
HIDDEN = "404"
NOT_ALLOWED = "405"

EVERYONE = ("anonymous", "wanjiru", "otieno", "ines", "pablo", "juma", "amina", "kwame", "ngozi")
BORROWERS = ("wanjiru", "otieno")
INVESTORS = ("ines", "pablo")
STAFF = ("juma", "amina", "kwame")
ADMINS = ("amina", "kwame")
SIGNED_IN = EVERYONE[1:]
ALLOWED = frozenset({OK, MOVED})
REFUSED = frozenset({LOGIN, UNAUTHENTICATED, DENIED, HIDDEN, NOT_ALLOWED, ADMIN_LOGIN})


@dataclass(frozen=True)
class Rule:
    """GET: what each person gets. WRITES: for each unsafe method, the people who must be
    refused, and what they get; DATA is what they send (a valid form, so that the refusal is
    the role's, not the form's)."""

    get: dict[str, frozenset[str]]
    writes: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    data: dict = field(default_factory=dict)


def _everyone(outcome) -> dict[str, frozenset[str]]:
    return dict.fromkeys(EVERYONE, frozenset({outcome}) if isinstance(outcome, str) else outcome)


def public(outcome=ALLOWED) -> Rule:
    return Rule(get=_everyone(outcome))


def signed_in(post: bool = True) -> Rule:
    """Any account's own page (profile, password change)."""
    get = {**_everyone(ALLOWED), "anonymous": frozenset({LOGIN})}
    return Rule(get=get, writes={"post": {"anonymous": frozenset({LOGIN})}} if post else {})


def _portal(
    members: tuple[str, ...],
    *,
    login: str,
    allowed: tuple[str, ...],
    strangers: tuple[str, ...] = (),
    get: frozenset[str] = ALLOWED,
) -> dict[str, frozenset[str]]:
    """Anonymous to LOGIN; ALLOWED get GET; MEMBERS of the portal who are not allowed are
    refused (403), STRANGERS (members who do not own the object) find nothing (404); everyone
    else is refused at the portal's door (403)."""
    table = _everyone(DENIED)
    table["anonymous"] = frozenset({login})
    for person in members:
        table[person] = frozenset({DENIED})
    for person in allowed:
        table[person] = get
    for person in strangers:
        table[person] = frozenset({HIDDEN})
    return table


def page(
    portal: tuple[str, ...],
    *,
    allowed: tuple[str, ...] | None = None,
    strangers: tuple[str, ...] = (),
    get: frozenset[str] = ALLOWED,
    post: bool = False,
    data: dict | None = None,
) -> Rule:
    """A portal page: GET for its members; a form on it (POST) refused to everyone else."""
    allowed = portal if allowed is None else allowed
    table = _portal(portal, login=LOGIN, allowed=allowed, strangers=strangers, get=get)
    refused = {p: o for p, o in table.items() if not o & ALLOWED}
    return Rule(get=table, writes={"post": refused} if post else {}, data=data or {})


def action(
    portal: tuple[str, ...],
    *,
    allowed: tuple[str, ...] | None = None,
    strangers: tuple[str, ...] = (),
    data: dict | None = None,
) -> Rule:
    """A button: POST only (GET is 405 for everyone), refused to all but ALLOWED."""
    allowed = portal if allowed is None else allowed
    table = _portal(portal, login=LOGIN, allowed=allowed, strangers=strangers)
    refused = {p: o for p, o in table.items() if not o & ALLOWED}
    return Rule(get=_everyone(NOT_ALLOWED), writes={"post": refused}, data=data or {})


def api(
    allowed: tuple[str, ...],
    *,
    strangers: tuple[str, ...] = (),
    get: bool = True,
    writes: tuple[str, ...] = (),
    write_allowed: tuple[str, ...] | None = None,
    public_get: bool = False,
) -> Rule:
    """An API endpoint: anonymous 401, ALLOWED roles in, other roles 403, STRANGERS 404.
    Without GET, DRF still checks who asks before it says 405."""
    table = _portal(allowed, login=UNAUTHENTICATED, allowed=allowed, strangers=strangers)
    if public_get:
        table = _everyone(ALLOWED)
    elif not get:
        # Without a GET handler DRF answers 405 once the role passes, before any object is
        # looked up: strangers too.
        table = {
            p: (frozenset({NOT_ALLOWED}) if o & ALLOWED or o == {HIDDEN} else o)
            for p, o in table.items()
        }
    write_table = _portal(
        allowed,
        login=UNAUTHENTICATED,
        allowed=write_allowed if write_allowed is not None else allowed,
        strangers=strangers,
    )
    refused = {p: o for p, o in write_table.items() if not o & ALLOWED}
    return Rule(get=table, writes=dict.fromkeys(writes, refused))


def public_api(*, get: bool = True) -> Rule:
    """Anyone may ask; what they send is checked, not who they are. A read-only one refuses
    writes to everyone."""
    if not get:
        return Rule(get=_everyone(NOT_ALLOWED))
    return Rule(get=_everyone(ALLOWED), writes={"post": {"anonymous": frozenset({NOT_ALLOWED})}})


STAFF_PAGE = page(STAFF)
KIJANI_PAGE = page(STAFF, allowed=("juma", "amina"), strangers=("kwame",))
KIJANI_ACTION = action(STAFF, allowed=("juma", "amina"), strangers=("kwame",))
KIJANI_ADMIN_ACTION = action(STAFF, allowed=("amina",), strangers=("kwame",))
NETWORK_ADMIN_ACTION = action(STAFF, allowed=ADMINS)
WANJIRUS_PAGE = page(BORROWERS, allowed=("wanjiru",), strangers=("otieno",))
WANJIRUS_ACTION = action(BORROWERS, allowed=("wanjiru",), strangers=("otieno",))
INES_PAGE = page(INVESTORS, allowed=("ines",), strangers=("pablo",))
INES_ACTION = action(INVESTORS, allowed=("ines",), strangers=("pablo",))

MATRIX: dict[str, Rule] = {
    # Anyone
    "landing": public(),
    "home": Rule(get={**_everyone(ALLOWED), "anonymous": frozenset({LOGIN})}),
    "login": public(),
    "logout": Rule(get=_everyone(NOT_ALLOWED)),
    "password_change": signed_in(),
    "password_change_done": signed_in(post=False),
    "password_reset": public(),
    "password_reset_done": public(),
    "password_reset_confirm": public(),
    "password_reset_complete": public(),
    "register-borrower": public(),
    "register-investor": public(),
    "invitation-accept": public(),
    "profile": signed_in(),
    "notifications": signed_in(post=False),
    "notifications-read": Rule(
        get=_everyone(NOT_ALLOWED), writes={"post": {"anonymous": frozenset({LOGIN})}}
    ),
    "project-page": public(),
    "project-image": public(),
    "project-funding": public(),
    "agreements:verify": public(),
    # 503 while the worker has not reported in: still an answer, not an error of the page.
    "health": public(frozenset({OK, "503"})),
    # Staff dashboard: every page for Kijani's staff; Kijani's objects hidden from Kwame.
    "staff:home": STAFF_PAGE,
    "staff:team": page(
        STAFF,
        post=True,
        data={"email": "baraka@kijani.example", "role": "originator_agent"},
    ),
    "staff:invitation-revoke": KIJANI_ADMIN_ACTION,
    "staff:member-access": KIJANI_ADMIN_ACTION,
    "staff:credentials": STAFF_PAGE,
    "staff:credential-issue": page(STAFF, post=True),
    "staff:credential-bulk": page(STAFF, post=True),
    "staff:credential-bulk-template": STAFF_PAGE,
    "staff:credential": KIJANI_PAGE,
    "staff:credential-revoke": KIJANI_ADMIN_ACTION,
    "ledger:books": STAFF_PAGE,
    "ledger:following": STAFF_PAGE,
    "ledger:follow-add": NETWORK_ADMIN_ACTION,
    "ledger:follow-change": NETWORK_ADMIN_ACTION,
    "ledger:verify": action(STAFF),
    "discovery:network": STAFF_PAGE,
    "discovery:network-live": STAFF_PAGE,
    "discovery:seed-add": action(STAFF, allowed=ADMINS, data={"address": "10.0.0.9:7946"}),
    "discovery:seed-remove": NETWORK_ADMIN_ACTION,
    "discovery:book-follow": NETWORK_ADMIN_ACTION,
    "discovery:book-unfollow": NETWORK_ADMIN_ACTION,
    "discovery:ban": action(STAFF, allowed=ADMINS, data={"reason": "spam", "node_id": "PEER"}),
    "discovery:ban-lift": NETWORK_ADMIN_ACTION,
    "projects:list": STAFF_PAGE,
    "projects:new": page(STAFF, post=True),
    "projects:criteria-preview": action(STAFF),
    "projects:detail": KIJANI_PAGE,
    "projects:edit": page(STAFF, allowed=("juma", "amina"), strangers=("kwame",), post=True),
    "projects:image": KIJANI_PAGE,
    "projects:amend": KIJANI_ADMIN_ACTION,
    "projects:move": KIJANI_ADMIN_ACTION,
    "loans:queue": STAFF_PAGE,
    "loans:payments": STAFF_PAGE,
    "loans:limits": STAFF_PAGE,
    "loans:limit-set": action(STAFF, allowed=ADMINS, data={"currency": "KES", "amount": "1"}),
    "loans:detail": KIJANI_PAGE,
    "loans:agreement": KIJANI_PAGE,
    "loans:agreement-file": KIJANI_PAGE,
    "loans:message": KIJANI_ACTION,
    "loans:request-information": KIJANI_ACTION,
    "loans:approve": KIJANI_ACTION,
    "loans:reject": KIJANI_ACTION,
    "loans:disburse": KIJANI_ACTION,
    "loans:repayment-record": KIJANI_ACTION,
    "loans:repayment-confirm": KIJANI_ACTION,
    "loans:repayment-refuse": KIJANI_ACTION,
    "loans:refund": KIJANI_ACTION,
    "loans:write-off": KIJANI_ADMIN_ACTION,
    "funding_staff:overview": STAFF_PAGE,
    "funding_staff:pending": STAFF_PAGE,
    "funding_staff:refunds": STAFF_PAGE,
    "funding_staff:project": KIJANI_PAGE,
    "funding_staff:confirm": KIJANI_ACTION,
    "funding_staff:refund": KIJANI_ACTION,
    "funding_invitations:list": STAFF_PAGE,
    "funding_invitations:invite": action(STAFF),
    "funding_invitations:detail": KIJANI_PAGE,
    "funding_invitations:invite-requested": KIJANI_ACTION,
    "funding_invitations:decline": KIJANI_ACTION,
    "funding_invitations:agreement-file": KIJANI_PAGE,
    # Borrower portal: Wanjiru's loan and credentials are hers alone.
    "borrow:home": page(BORROWERS),
    "borrow:projects": page(BORROWERS),
    "borrow:credentials": page(BORROWERS),
    "borrow:credentials-download": page(BORROWERS),
    "borrow:credential-download": WANJIRUS_PAGE,
    "borrow:credential-import": page(BORROWERS, post=True),
    "borrow:present": page(BORROWERS, post=True),
    "borrow:present-verify": action(BORROWERS),
    "borrow:wallet": page(BORROWERS),
    "borrow:wallet-export": page(BORROWERS, post=True),
    "borrow:wallet-self-custody": page(BORROWERS),
    "borrow:wallet-challenge": action(BORROWERS),
    "borrow:wallet-self-custody-register": action(BORROWERS),
    "borrower_loans:list": page(BORROWERS),
    "borrower_loans:apply": page(BORROWERS, post=True),
    "borrower_loans:apply-challenge": action(BORROWERS),
    "borrower_loans:detail": WANJIRUS_PAGE,
    "borrower_loans:message": WANJIRUS_ACTION,
    "borrower_loans:withdraw": WANJIRUS_ACTION,
    "borrower_loans:agreement": page(
        BORROWERS, allowed=("wanjiru",), strangers=("otieno",), post=True
    ),
    "borrower_loans:agreement-file": WANJIRUS_PAGE,
    "borrower_loans:agreement-pdf": WANJIRUS_PAGE,
    "borrower_loans:disbursement-confirm": WANJIRUS_ACTION,
    "borrower_loans:repayment-report": WANJIRUS_ACTION,
    # Investor portal: Ines's commitment and invitation are hers alone.
    "invest:home": page(INVESTORS),
    "invest:portfolio": page(INVESTORS),
    "invest:commitment": INES_PAGE,
    "invest:commitment-cancel": INES_ACTION,
    "invest:statements": page(INVESTORS),
    "invest:statement-csv": page(INVESTORS),
    "invest:statement-pdf": page(INVESTORS),
    "invest:projects": page(INVESTORS),
    "invest:network-fund": page(INVESTORS, post=True),
    "invest:network-commitments": page(INVESTORS),
    "invest:invitations": page(INVESTORS),
    "invest:invitation-request": page(INVESTORS, post=True),
    "invest:invitation": page(INVESTORS, allowed=("ines",), strangers=("pablo",), post=True),
    "invest:invitation-file": INES_PAGE,
    "invest:invitation-pdf": INES_PAGE,
    "invest:invitation-withdraw": INES_ACTION,
    "project-commit": action(INVESTORS),
    # API: tokens, the caller, wallets, credentials and presentations
    # POST trades a password for a token; GET is nobody's, DELETE (revoke) the signed-in's.
    "api-token": Rule(
        get={**_everyone(NOT_ALLOWED), "anonymous": frozenset({UNAUTHENTICATED})},
        writes={"delete": {"anonymous": frozenset({UNAUTHENTICATED})}},
    ),
    "api-me": api(SIGNED_IN),
    "api-notifications": api(SIGNED_IN),
    "api-staff-team": api(STAFF),
    "api-staff-invitations": api(STAFF, writes=("post",), write_allowed=ADMINS),
    "api-wallet": api(SIGNED_IN),
    "api-wallet-export": api(SIGNED_IN, get=False, writes=("post",)),
    "api-wallet-challenge": api(SIGNED_IN, get=False, writes=("post",)),
    "api-wallet-self-custody": api(SIGNED_IN, get=False, writes=("post",)),
    "api-credential-types": public_api(),
    "api-credentials": api(BORROWERS),
    "api-credential-import": api(BORROWERS, get=False, writes=("post",)),
    "api-staff-credentials": api(STAFF, writes=("post",)),
    "api-staff-credentials-bulk": api(STAFF, get=False, writes=("post",)),
    "api-staff-credential-revoke": api(ADMINS, strangers=("kwame",), get=False, writes=("post",)),
    "api-trusted-issuers": api(SIGNED_IN, writes=("post",), write_allowed=("ngozi",)),
    "api-trusted-issuer": api(("ngozi",), get=False, writes=("delete",)),
    "api-presentation-challenge": api(SIGNED_IN, get=False, writes=("post",)),
    "api-presentation-custodial": api(BORROWERS, get=False, writes=("post",)),
    "api-presentations": api(SIGNED_IN, get=False, writes=("post",)),
    # API: the public books
    "api-books": public_api(),
    "api-book": public_api(),
    "api-book-blocks": public_api(),
    "api-book-replication": public_api(),
    "api-book-head": public_api(),
    "api-book-entry": public_api(),
    "api-book-history": public_api(),
    # API: funding
    "api-commitments": api(INVESTORS, writes=("post",)),
    "api-commitment": api(("ines",), strangers=("pablo",)),
    "api-commitment-cancel": api(("ines",), strangers=("pablo",), get=False, writes=("post",)),
    "api-portfolio": api(INVESTORS),
    "api-network-projects": api(INVESTORS),
    "api-network-commitments": api(INVESTORS, writes=("post",)),
    "api-statements": api(INVESTORS),
    "api-project-funding": public_api(),
    "api-staff-project-commitments": api(STAFF, strangers=("kwame",)),
    "api-staff-commitment-confirm": api(STAFF, strangers=("kwame",), get=False, writes=("post",)),
    "api-staff-commitment-refund": api(STAFF, strangers=("kwame",), get=False, writes=("post",)),
    "api-remote-commitments": public_api(get=False),
    # API: projects
    "api-staff-projects": api(STAFF, writes=("post",)),
    "api-staff-project": api(STAFF, strangers=("kwame",), writes=("patch",)),
    "api-staff-project-amend": api(ADMINS, strangers=("kwame",), get=False, writes=("post",)),
    "api-staff-project-move": api(ADMINS, strangers=("kwame",), get=False, writes=("post",)),
    "api-projects": public_api(),
    "api-project": public_api(),
    "api-project-schedule": public_api(),
    # API: loans
    "api-loans": api(BORROWERS, writes=("post",)),
    "api-loan-challenge": api(BORROWERS, get=False, writes=("post",)),
    "api-loan": api(BORROWERS, strangers=("otieno",)),
    "api-loan-withdraw": api(BORROWERS, strangers=("otieno",), get=False, writes=("post",)),
    "api-loan-messages": api(BORROWERS, strangers=("otieno",), writes=("post",)),
    "api-loan-agreement": api(BORROWERS, strangers=("otieno",)),
    "api-loan-agreement-sign": api(BORROWERS, strangers=("otieno",), get=False, writes=("post",)),
    "api-loan-disbursement-confirm": api(
        BORROWERS, strangers=("otieno",), get=False, writes=("post",)
    ),
    "api-loan-repayments": api(BORROWERS, strangers=("otieno",), get=False, writes=("post",)),
    "api-staff-loans": api(STAFF),
    "api-staff-loan": api(STAFF, strangers=("kwame",)),
    "api-staff-loan-approve": api(STAFF, strangers=("kwame",), get=False, writes=("post",)),
    "api-staff-loan-reject": api(STAFF, strangers=("kwame",), get=False, writes=("post",)),
    "api-staff-loan-request-information": api(
        STAFF, strangers=("kwame",), get=False, writes=("post",)
    ),
    "api-staff-loan-messages": api(STAFF, strangers=("kwame",), writes=("post",)),
    "api-staff-loan-disburse": api(STAFF, strangers=("kwame",), get=False, writes=("post",)),
    "api-staff-loan-repayments": api(STAFF, strangers=("kwame",), get=False, writes=("post",)),
    "api-staff-loan-refund": api(STAFF, strangers=("kwame",), get=False, writes=("post",)),
    "api-staff-loan-write-off": api(ADMINS, strangers=("kwame",), get=False, writes=("post",)),
    "api-staff-repayments": api(STAFF),
    "api-staff-repayment-confirm": api(STAFF, strangers=("kwame",), get=False, writes=("post",)),
    "api-staff-repayment-reject": api(STAFF, strangers=("kwame",), get=False, writes=("post",)),
    "api-staff-approval-limits": api(STAFF, writes=("put",), write_allowed=ADMINS),
    "api-agreement-verify": public_api(get=False),
    # API documents
    "api-schema": public_api(),
    "api-docs": public_api(),
}

# Django's admin is the node operator's: everyone else is sent to its login page.
ADMIN_SITE = Rule(
    get={**_everyone(ADMIN_LOGIN), "ngozi": frozenset({OK, MOVED, DENIED, HIDDEN})},
    # Every admin page goes through one door (AdminSite.admin_view): the strongest person
    # who is not an operator stands for everyone else.
    writes={"post": dict.fromkeys(("anonymous", "amina"), frozenset({ADMIN_LOGIN}))},
)
ADMIN_SPECIAL = {
    # Its login page is open to all; a signed-in operator is sent on to the index.
    "admin:login": Rule(get={**_everyone(OK), "ngozi": frozenset({MOVED})}),
    # Logging out is a POST; a GET to it sends non-operators home to the admin's index first.
    "admin:logout": Rule(get={**_everyone(MOVED), "ngozi": frozenset({NOT_ALLOWED})}),
}


def outcome(response, path: str) -> str:
    status = response.status_code
    if 300 <= status < 400:
        location = response["Location"]
        if location.startswith("/accounts/login/"):
            return LOGIN
        if location.startswith("/admin/login/"):
            return ADMIN_LOGIN
        area, there = path.split("/")[1], location.split("/")[1] if location[:1] == "/" else None
        # "/" and "/home/" send each person on to their own portal, which is where "/home/"
        # sends a signed-in person who opens the login page.
        if there == area or area in ("", "home") or there == "home":
            return MOVED
        return f"{status} to {location}"
    if 200 <= status < 300:
        return OK
    return str(status)


ROUTES = all_routes()


def rule_for(route: Route) -> Rule:
    if route.is_admin:
        return ADMIN_SPECIAL.get(route.name, ADMIN_SITE)
    return MATRIX[route.name]


def test_every_url_of_the_node_has_a_row_in_the_matrix():
    """A URL added without deciding who may reach it fails here first."""
    missing = [r.name for r in ROUTES if not r.is_admin and r.name not in MATRIX]
    unfilled = [r.name for r in ROUTES if not r.is_admin and r.name not in PATHS]
    stale = sorted(set(MATRIX) - {r.name for r in ROUTES})

    assert missing == [], f"decide who may reach these URLs: {missing}"
    assert unfilled == [], f"give these URLs a real path in tests/hardening/urls.py: {unfilled}"
    assert stale == [], f"these rows name no URL any more: {stale}"


def path_for(route: Route, world) -> str:
    path = admin_path(route, world) if route.is_admin else PATHS[route.name](world)
    return path


def _data(rule: Rule, world) -> dict:
    return {k: (world.peer_node_id.hex() if v == "PEER" else v) for k, v in rule.data.items()}


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_each_person_reaches_what_the_design_lets_them_and_nothing_else(route, world, client_as):
    assert route.is_admin or route.name in MATRIX, f"{route.name}: no row says who may reach it"
    rule = rule_for(route)
    path = path_for(route, world)
    wrong = []
    for person in EVERYONE:
        response = client_as(person).get(path)
        got = outcome(response, path)
        if got not in rule.get[person]:
            wrong.append(f"GET {path} as {person}: {got}, expected {sorted(rule.get[person])}")
        # Every page, the error pages included, carries the CSP (apps/node/middleware.py).
        if "Content-Security-Policy" not in response:
            wrong.append(f"GET {path} as {person}: no Content-Security-Policy header")
    for method, refused in rule.writes.items():
        for person, expected in refused.items():
            client = client_as(person)
            if method == "post":
                response = client.post(path, _data(rule, world))
            else:
                response = getattr(client, method)(path, "{}", content_type="application/json")
            got = outcome(response, path)
            if got not in expected:
                wrong.append(
                    f"{method.upper()} {path} as {person}: {got}, expected {sorted(expected)}"
                )
    assert wrong == [], "\n".join(wrong)


def test_a_draft_project_is_kijanis_alone_until_it_is_published(world, client_as):
    """The matrix asks about a published project; Juma's draft is another matter: the same
    public URLs must not show it to anyone outside Kijani, Kwame included."""
    draft = project_create(actor=world.juma, terms=goat_terms(name="Solar dryers, not yet out"))
    paths = [
        f"/projects/{draft.pk}/",
        f"/api/projects/{draft.pk}/",
        f"/api/projects/{draft.pk}/funding/",
        f"/api/projects/{draft.pk}/schedule/?amount=10000&duration=12",
    ]
    wrong = []
    for path in paths:
        for person in EVERYONE:
            got = outcome(client_as(person).get(path), path)
            expected = OK if person in ("juma", "amina") else HIDDEN
            if got != expected:
                wrong.append(f"GET {path} as {person}: {got}, expected {expected}")

    assert wrong == [], "\n".join(wrong)
