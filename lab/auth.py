"""Who is using the app: Streamlit's built-in login (st.login / st.user, OpenID Connect) when it is
configured, else the one local user.

Login is configured by an [auth] section in .streamlit/secrets.toml (see the README, "Hosting a class").
Without one, the embedded default (one person, one laptop) needs no login and the viewer is
owners.LOCAL, an instructor. With one, app.py calls gate() before any page: until the visitor logs in,
the app shows only a log-in button. Instructors are the e-mails in $BACKPROP_LAB_INSTRUCTORS.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from training import owners
from training.owners import LOCAL, Viewer

NO_SECRETS = "no-secrets-found"  # Streamlit's error id when there is no secrets.toml at all


class LoginMisconfigured(Exception):
    """A secrets file exists but cannot be read: the app must not fall back to 'everyone is local'."""


def login_configured() -> bool:
    """Whether secrets.toml has an [auth] section. No secrets file at all means no login."""
    try:
        return "auth" in st.secrets
    except StreamlitSecretNotFoundError as error:
        if getattr(error, "error_id", None) == NO_SECRETS:
            return False
        raise LoginMisconfigured(str(error)) from None


def provider() -> str | None:
    """The provider st.login uses: None for settings directly in [auth], else the first [auth.<name>]."""
    auth = st.secrets["auth"]
    if "client_id" in auth:
        return None
    named = [name for name, value in auth.items() if isinstance(value, Mapping)]
    return named[0] if named else None


def viewer_from_claims(email: str, name: str | None) -> Viewer:
    """The viewer for a logged-in user's OIDC claims; the rules (e-mail as id, instructors) are owners'."""
    return owners.logged_in(email, name)


def viewer() -> Viewer:
    """Who this session acts for. owners.LOCAL without login; else the logged-in user.

    With login configured and nobody logged in (or no e-mail from the provider), draws the log-in screen
    and stops the script, so a page never runs for an anonymous visitor."""
    if not login_configured():
        return LOCAL
    if not st.user.is_logged_in:
        _log_in_screen()
    email = st.user.get("email")
    if not isinstance(email, str) or "@" not in email:
        st.error(
            "Your login provider did not send an e-mail address, which this app needs to know whose runs are "
            "whose. Ask the instructor to add the 'email' scope to the login settings.",
            icon=":material/person_off:",
        )
        st.button("Log out", on_click=st.logout)
        st.stop()
    name = st.user.get("name")
    return viewer_from_claims(email, name if isinstance(name, str) else None)


def _log_in_screen() -> None:
    st.title("Backprop Lab")
    st.markdown("This server is shared by a class: log in to see the lab and your own training runs.")
    st.button("Log in", type="primary", icon=":material/login:", on_click=st.login, args=(provider(),))
    st.stop()


def gate() -> Viewer:
    """Called by app.py before any page: the log-in screen until logged in, then who is logged in and a
    log-out button in the sidebar. A secrets file that cannot be read stops the app with one sentence."""
    try:
        person = viewer()
    except LoginMisconfigured as error:
        st.error(
            "The login settings (.streamlit/secrets.toml) cannot be read, so nobody can log in until they "
            "are fixed:",
            icon=":material/lock:",
        )
        st.code(str(error), language="text")
        st.stop()
    if person is not LOCAL:
        bar = st.sidebar.container(border=True)
        bar.text(f"{person.name}\n{person.id}")  # the provider's text: shown as text, never as Markdown
        bar.caption("Instructor: sees every run." if person.instructor else "Student: sees your own runs.")
        bar.button("Log out", icon=":material/logout:", on_click=st.logout, width="stretch")
    return person
