"""`pip install .` into a fresh virtual environment, then the installed `backprop-lab` serving the app.

The checkout is copied first (the files git would commit) and the copy deleted after the install, so the
app can only run from what pip installed. The fresh venv borrows this environment's dependencies through a
.pth file instead of downloading torch again (`--no-deps`); everything of Backprop Lab comes from the wheel.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.streamlit_server import CHROMIUM, REPO, chromium, streamlit_server

pytestmark = pytest.mark.slow
TIMEOUT_MS = 60_000  # a cold page on a shared 2-core machine


def checkout_copy(target: Path) -> Path:
    """The files a fresh clone would have (tracked, plus new files git does not ignore)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin/ folder of a fresh venv holding `pip install .` of this checkout."""
    root = tmp_path_factory.mktemp("install")
    source = checkout_copy(root / "src")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-build-isolation",
         "--no-input", "--disable-pip-version-check", str(source)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    shutil.rmtree(source)
    return venv / "bin"


def test_the_wheel_holds_every_package_and_the_app(installed):
    where = subprocess.run(
        [installed / "python", "-c", "import backprop_lab.cli as c, lab, training, exports, backprop_core;"
         "print(c.app_script()); print(lab.__file__)"],
        capture_output=True,
        text=True,
        cwd=installed,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    app, lab = map(Path, where.stdout.split())
    venv = installed.parent.resolve()
    assert app.is_file() and app.is_relative_to(venv) and lab.is_relative_to(venv)
    pages = sorted(path.name for path in (app.parent / "app_pages").glob("*.py"))
    assert {"home.py", "learning_rate.py", "step_through.py", "training.py"} <= set(pages)


def test_help_names_the_settings(installed):
    result = subprocess.run([installed / "backprop-lab", "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for option in ("--host", "--port", "--runs", "--max-runs", "--secrets", "--instructors", "streamlit run"):
        assert option in result.stdout


@pytest.mark.browser
@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"needs Debian's chromium at {CHROMIUM}")
def test_backprop_lab_serves_the_app(installed, tmp_path):
    work = tmp_path / "work"  # an empty folder: no app.py, no .streamlit here
    work.mkdir()
    with (
        streamlit_server(
            program=[str(installed / "backprop-lab")],
            cwd=work,
            env={"BACKPROP_LAB_RUNS": str(tmp_path / "runs")},
        ) as base_url,
        chromium() as browser,
    ):
        page = browser.new_page()
        for path, heading in [("", "The 2-2-2 network"), ("learning_rate", "How the learning rate")]:
            page.goto(f"{base_url}/{path}")
            page.get_by_role("heading", name=heading).wait_for(timeout=TIMEOUT_MS)
        assert page.title() == "Backprop Lab"
