"""backprop-lab: start the app, the same as `streamlit run app.py` in a checkout.

    backprop-lab [--host 0.0.0.0] [--port 8501] [--runs DIR] [--max-runs N] [--mnist DIR]
                 [--secrets FILE] [--instructors a@x.org,b@x.org] [any `streamlit run` flag …]

The options of this command are the lab's server settings (each one sets the environment variable the app
reads, so a systemd unit may set either); every other flag goes to `streamlit run` unchanged, for example
`--server.baseUrlPath lab` or `--server.port 8502`. The app's own Streamlit settings (.streamlit/config.toml
in a checkout) are passed as flags, since an installed package has no .streamlit folder in the current
directory; a flag given on the command line wins.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import app_pages

# The checkout's .streamlit/config.toml, as flags (tests/test_cli.py checks the two agree).
STREAMLIT_SETTINGS: dict[str, str] = {
    "browser.gatherUsageStats": "false",  # a classroom tool sends nothing anywhere
    "client.toolbarMode": "minimal",  # no "Deploy" button or developer menu for students
    "server.maxUploadSize": "10",  # MB: the worksheet checker's limit (also in exports/safe_xlsx.py)
}

# Each lab option and the environment variable the app reads it from (training/runs.py, lab/auth.py,
# training/data.py).
ENVIRONMENT = {
    "runs": "BACKPROP_LAB_RUNS",
    "max_runs": "BACKPROP_LAB_MAX_RUNS",
    "mnist": "MNIST_DIR",
    "instructors": "BACKPROP_LAB_INSTRUCTORS",
}


def app_script() -> Path:
    """app.py, installed beside the app_pages package (site-packages, or this checkout)."""
    return Path(app_pages.__file__).resolve().parent.parent / "app.py"


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="backprop-lab",
        description="Start Backprop Lab in the browser (the same as `streamlit run app.py`). "
        "Any other flag is passed to `streamlit run`, e.g. --server.baseUrlPath lab; see `streamlit run --help`.",
        epilog="Login for a class: put an [auth] section (OpenID Connect) in .streamlit/secrets.toml in the "
        "current folder, or name the file with --secrets; see the README, 'Hosting a class'.",
        allow_abbrev=False,  # `--se` must not be taken for --secrets: it may be the start of a Streamlit flag
    )
    cli.add_argument("--host", help="address to listen on (Streamlit's default: every interface)")
    cli.add_argument("--port", type=_port, help="port to listen on (default 8501)")
    cli.add_argument(
        "--runs", type=Path, metavar="DIR", help="folder for MNIST training runs (default ./runs)"
    )
    cli.add_argument("--max-runs", type=_positive, metavar="N", help="trainings at once (default 1)")
    cli.add_argument(
        "--mnist", type=Path, metavar="DIR", help="folder with the MNIST files (default ./data/mnist)"
    )
    cli.add_argument(
        "--secrets",
        type=Path,
        metavar="FILE",
        help="secrets.toml with the [auth] login settings (default .streamlit/secrets.toml here, if any)",
    )
    cli.add_argument(
        "--instructors",
        metavar="EMAILS",
        help="comma-separated e-mails of the instructors, who see every run (login only)",
    )
    return cli


def _port(text: str) -> int:
    port = _positive(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port (1 to 65535)")
    return port


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def streamlit_args(argv: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The `streamlit run …` arguments and the environment variables for argv; exits 2 on bad input."""
    cli = parser()
    options, rest = cli.parse_known_args(argv)
    script = app_script()
    if not script.is_file():
        cli.error(f"cannot find the app: {script} is missing (is the package installed whole?)")
    if options.secrets is not None and not options.secrets.is_file():
        cli.error(f"--secrets {options.secrets}: no such file")
    environment = {  # folders made absolute, so the trainer the app starts finds the same ones
        variable: str(value.resolve() if isinstance(value, Path) else value)
        for name, variable in ENVIRONMENT.items()
        if (value := getattr(options, name)) is not None
    }
    given = {arg.split("=", 1)[0] for arg in rest if arg.startswith("--")}
    flags = [
        item
        for key, value in STREAMLIT_SETTINGS.items()
        if f"--{key}" not in given
        for item in (f"--{key}", value)
    ]
    if options.host is not None:
        flags += ["--server.address", options.host]
    if options.port is not None:
        flags += ["--server.port", str(options.port)]
    if options.secrets is not None:
        flags += ["--secrets.files", str(options.secrets.resolve())]
    return ["run", str(script), *flags, *rest], environment


def main(argv: list[str] | None = None) -> int:
    args, environment = streamlit_args(argv)
    os.environ.update(environment)
    from streamlit.web import cli as streamlit_cli  # imported late: --help should not wait for Streamlit

    sys.argv = ["streamlit", *args]  # Streamlit reads its flags from sys.argv as well as from click
    return streamlit_cli.main(args=args, prog_name="backprop-lab")
