"""The `backprop-lab` command line: what it hands to `streamlit run` and to the app (no server started)."""

from __future__ import annotations

import pytest

from backprop_lab import cli
from tests.streamlit_server import REPO


def flags(args: list[str]) -> dict[str, str]:
    """`--key value` pairs after `run app.py` as a dict."""
    return dict(zip(args[2::2], args[3::2], strict=True))


def test_runs_the_checkouts_app():
    args, _ = cli.streamlit_args([])
    assert args[:2] == ["run", str(REPO / "app.py")]


def test_the_projects_streamlit_settings_are_passed():
    """The installed command applies .streamlit/config.toml, which only `streamlit run` in a checkout reads."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    settings = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    expected = {
        f"--{section}.{key}": str(value).lower() if isinstance(value, bool) else str(value)
        for section, options in settings.items()
        for key, value in options.items()
    }
    args, _ = cli.streamlit_args([])
    assert flags(args) == expected


def test_lab_options_become_flags_and_settings(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("[auth]\n")
    args, environment = cli.streamlit_args(
        ["--host", "127.0.0.1", "--port", "8600", "--runs", "class-runs", "--max-runs", "2",
         "--secrets", str(secrets), "--instructors", "ada@example.org"]
    )  # fmt: skip
    given = flags(args)
    assert given["--server.address"] == "127.0.0.1"
    assert given["--server.port"] == "8600"
    assert given["--secrets.files"] == str(secrets)
    assert (
        environment["BACKPROP_LAB_RUNS"].endswith("/class-runs")
        and environment["BACKPROP_LAB_RUNS"][0] == "/"
    )
    assert environment["BACKPROP_LAB_MAX_RUNS"] == "2"
    assert environment["BACKPROP_LAB_INSTRUCTORS"] == "ada@example.org"


def test_other_flags_go_to_streamlit_and_win():
    args, _ = cli.streamlit_args(
        ["--server.port", "8601", "--server.maxUploadSize=50", "--logger.level", "info"]
    )
    assert args[-5:] == ["--server.port", "8601", "--server.maxUploadSize=50", "--logger.level", "info"]
    assert "--server.maxUploadSize" not in args  # the command line's own value replaces the project's


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--port", "http"], "'http' is not a whole number"),
        (["--port", "70000"], "70000 is not a port"),
        (["--max-runs", "0"], "0 must be at least 1"),
        (["--secrets", "/nonexistent/secrets.toml"], "no such file"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.streamlit_args(argv)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
