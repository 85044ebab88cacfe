"""The shared layout's main navigation, rendered once per process for each way it can look, and
its other links, reversed once per process.

The navigation holds about twenty links, each reversed and compared with the current page: a
millisecond of template work on every page. What it shows depends only on the portals the person
may open, whether they may open the node's admin site, the current page's namespace and name,
and the script prefix the links start with: a few dozen combinations, whose HTML is kept in the
process (templates change only with a deploy, which restarts it)."""

from __future__ import annotations

from functools import lru_cache

from django import template
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import get_script_prefix, reverse
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag(takes_context=True)
def main_nav(context) -> SafeString:
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    user = context.get("user")
    portals = context.get("portals") or {}
    return _nav(
        get_script_prefix(),
        tuple(sorted(name for name, allowed in portals.items() if allowed)),
        bool(user is not None and user.is_authenticated and user.is_staff),
        (match.namespace if match else "") or "",
        (match.url_name if match else "") or "",
    )


@lru_cache(maxsize=1024)
def _nav(
    script_prefix: str, portals: tuple[str, ...], node_admin: bool, ns: str, name: str
) -> SafeString:
    context = {
        "portals": dict.fromkeys(portals, True),
        "node_admin": node_admin,
        "ns": ns,
        "name": name,
    }
    return mark_safe(render_to_string("includes/nav.html", context))  # noqa: S308 (a template's output)


@register.simple_tag
def layout_links() -> dict[str, str]:
    """The layout's links and files besides the navigation ({% layout_links as layout_urls %},
    a name no page's context uses): a reversal or a static file's hashed name costs tens of
    microseconds, and the layout has twelve on every page."""
    return _links(get_script_prefix())


@lru_cache(maxsize=64)
def _links(script_prefix: str) -> dict[str, str]:
    names = (
        "landing",
        "notifications",
        "api-notifications",
        "profile",
        "login",
        "logout",
        "health",
    )
    files = {
        "icon": "img/growr.svg",
        "stylesheet": "css/growr.css",
        "live_script": "js/live.js",
        "bell_icon": "img/bell.svg",
    }
    return {name.replace("-", "_"): reverse(name) for name in names} | {
        name: static(path) for name, path in files.items()
    }
