"""Login for a class, for real: a local OpenID Connect provider (oidc-provider-mock) on 127.0.0.1, the app
with a secrets.toml pointing at it, and Chromium logging in as two students and an instructor.

Without a secrets.toml the app needs no login at all (the other browser tests and tests/test_app_pages.py
run it that way); the last tests here check the pure rules of lab/auth.py.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading

import pytest

from lab import auth
from tests.streamlit_server import CHROMIUM, REPO, chromium, streamlit_server
from training.owners import INSTRUCTORS_ENV, LOCAL, Viewer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the mock provider's own Authlib use
TIMEOUT_MS = 60_000  # a cold page on a shared 2-core machine

# (subject at the provider, e-mail claim, name claim)
INSTRUCTOR = ("ada", "Ada@Example.org", "Ada Lovelace")
STUDENTS = [("ben", "ben@example.org", "Ben Okafor"), ("chen", "chen@example.org", "Chen Wei")]


@pytest.fixture(scope="module")
def provider():
    """An OpenID Connect provider on 127.0.0.1 that knows the three users; yields its issuer URL."""
    pytest.importorskip("oidc_provider_mock")
    import oidc_provider_mock
    import werkzeug.serving

    insecure = os.environ.get("AUTHLIB_INSECURE_TRANSPORT")
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain http on 127.0.0.1, for this module's servers only
    users = [
        oidc_provider_mock.User(sub=sub, claims={"email": email, "name": name})
        for sub, email, name in [INSTRUCTOR, *STUDENTS]
    ]
    server = werkzeug.serving.make_server(
        "127.0.0.1", 0, oidc_provider_mock.app(user_claims=users), threaded=True
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        if insecure is None:
            os.environ.pop("AUTHLIB_INSECURE_TRANSPORT", None)
        else:
            os.environ["AUTHLIB_INSECURE_TRANSPORT"] = insecure


@pytest.fixture(scope="module")
def class_server(provider, tmp_path_factory):
    """The app with login configured: secrets.toml in a temp folder, named by --secrets.files."""
    folder = tmp_path_factory.mktemp("class")
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        'client_id = "backprop-lab-test"\n'
        'client_secret = "test-only-not-a-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    env = {
        "BACKPROP_LAB_RUNS": str(folder / "runs"),
        "BACKPROP_LAB_INSTRUCTORS": f" {INSTRUCTOR[1].upper()} , nobody@example.org",  # case and spaces vary
    }
    with streamlit_server(
        script=str(REPO / "app.py"), env=env, args=["--secrets.files", str(secrets_file)]
    ) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def log_in(browser, base_url: str, subject: str):
    """A fresh browser (no cookies) that opens the MNIST page, logs in as `subject`, and is back on it."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base_url}/training")
    page.get_by_role("button", name="Log in").wait_for(timeout=TIMEOUT_MS)
    assert page.get_by_role("heading", name="MNIST training").count() == 0  # nothing of the lab before login
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name=subject, exact=True).click(timeout=TIMEOUT_MS)  # the provider's form
    page.wait_for_url(f"{base_url}/**", timeout=TIMEOUT_MS)
    page.goto(f"{base_url}/training")
    page.get_by_role("heading", name="MNIST training").wait_for(timeout=TIMEOUT_MS)
    return context, page


def identity(page) -> str:
    return page.locator('[data-testid="stSidebar"]').inner_text(timeout=TIMEOUT_MS)


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"needs Debian's chromium at {CHROMIUM}")
def test_two_students_and_an_instructor_each_see_themselves(class_server, browser):
    sessions = {}
    for subject, email, name in [*STUDENTS, INSTRUCTOR]:
        context, page = log_in(browser, class_server, subject)
        sessions[subject] = (context, page)
        page.get_by_text("sees every run" if subject == INSTRUCTOR[0] else "sees your own runs").wait_for(
            timeout=TIMEOUT_MS
        )
        shown = identity(page)
        assert name in shown and email.lower() in shown
        others = [(s, e, n) for s, e, n in [*STUDENTS, INSTRUCTOR] if s != subject]
        assert not any(n in shown or e.lower() in shown for _, e, n in others)
        assert ("Instructor" in shown) == (subject == INSTRUCTOR[0])

    # The first student is still himself after the others logged in (no shared session state).
    _, page = sessions[STUDENTS[0][0]]
    page.reload()
    page.get_by_role("heading", name="MNIST training").wait_for(timeout=TIMEOUT_MS)
    assert STUDENTS[0][2] in identity(page)

    # Log out: through the provider's end-session form, back to the log-in button.
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="End session").click(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Log in").wait_for(timeout=TIMEOUT_MS)
    for context, _ in sessions.values():
        context.close()


def test_without_login_the_viewer_is_the_local_instructor():
    assert not auth.login_configured()  # this checkout has no .streamlit/secrets.toml
    assert auth.viewer() is LOCAL and LOCAL.instructor


@pytest.mark.parametrize(
    "listed, email, name, expected",
    [
        (
            "ada@example.org",
            "Ada@Example.org",
            "Ada Lovelace",
            Viewer("ada@example.org", "Ada Lovelace", True),
        ),
        (" ADA@example.org ,x@y.org", "ada@example.org", "Ada", Viewer("ada@example.org", "Ada", True)),
        ("ada@example.org", "ben@example.org", "Ben", Viewer("ben@example.org", "Ben", False)),
        (
            "",
            "ada@example.org",
            "Ada",
            Viewer("ada@example.org", "Ada", False),
        ),  # nobody listed: no instructor
        ("ada@example.org", "ben@example.org", None, Viewer("ben@example.org", "ben@example.org", False)),
        ("ada@example.org", "ben@example.org", "  ", Viewer("ben@example.org", "ben@example.org", False)),
    ],
)
def test_instructor_only_when_listed(monkeypatch, listed, email, name, expected):
    monkeypatch.setenv(INSTRUCTORS_ENV, listed)
    assert auth.viewer_from_claims(email, name) == expected
