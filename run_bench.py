"""aipep's user entry: saved defaults, asked for once, then the harness.

The first run at a terminal asks where to keep models, the database and which
reporters to use, and saves the answers in the user's config dir; later runs
(and runs without a terminal, such as CI) use them silently. Every other flag
is passed through to the harness unchanged. --help is answered before anything
is asked: someone reading the usage has not decided to run anything yet.
`--remote` (FAI-PEP's flag) sends the run to the device lab instead: `aipep-lab submit`,
with the broker from `--lab_broker` or $AIPEP_LAB_BROKER and the device kind from `--devices`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from aipep_core.errors import UserError
from aipep_core.user_dirs import cache_dir, config_dir, data_dir
from harness.cli import main as harness_main
from harness.cli_args import build_parser, exit_status_help

OPTIONS_FILE = "run_bench.json"
PROG = "aipep-bench"
HELP_FLAGS = ("-h", "--help")
EXIT_INTERRUPTED = 130
EXIT_NO_ANSWER = 2
REMOTE_FLAG = "--remote"
LAB_BROKER_FLAG = "--lab_broker"
LAB_BROKER_ENV = "AIPEP_LAB_BROKER"


def default_options() -> dict[str, str | bool]:
    return {
        "--model_cache": str(cache_dir() / "models"),
        "--db": str(data_dir() / "aipep.db"),
        "--screen_reporter": True,
        "--local_reporter": "",
    }


def options_path() -> Path:
    return config_dir() / OPTIONS_FILE


def ask_options(defaults: dict[str, str | bool], ask=input) -> dict[str, str | bool]:
    """Ask for each default at the terminal; an empty answer keeps the default."""
    print("aipep: first run — choose defaults (Enter keeps the value in brackets).")
    chosen = dict(defaults)
    chosen["--model_cache"] = (
        ask(f"Model cache directory [{defaults['--model_cache']}]: ").strip() or defaults["--model_cache"]
    )
    chosen["--db"] = ask(f"SQLite results database [{defaults['--db']}]: ").strip() or defaults["--db"]
    screen = ask("Print a table of results on screen? [Y/n]: ").strip().lower()
    chosen["--screen_reporter"] = screen not in ("n", "no")
    chosen["--local_reporter"] = ask("Also write result files to a directory (empty for none) []: ").strip()
    return chosen


def read_saved_options(path: Path) -> dict[str, str | bool]:
    """The saved defaults over the built-in ones; a file that cannot be used is the user's to reset."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: saved options unreadable ({exc}); run with --reset_options") from None
    if not isinstance(saved, dict):
        raise UserError(f"{path}: saved options unreadable (expected a JSON object); run with --reset_options")
    return {**default_options(), **saved}


def load_options(reset: bool, interactive: bool, ask=input) -> dict[str, str | bool]:
    path = options_path()
    if path.exists() and not reset:
        try:
            return read_saved_options(path)
        except UserError as error:
            print(f"run_bench: error: {error}", file=sys.stderr)
            raise SystemExit(error.exit_status) from None
    if not interactive:
        return default_options()
    options = ask_options(default_options(), ask)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(options, indent=2) + "\n")
    os.replace(temporary, path)
    print(f"aipep: saved to {path}; change them with --reset_options")
    return options


def harness_argv(options: dict[str, str | bool], passed: list[str]) -> list[str]:
    """Saved options first, so anything given on the command line wins."""
    given = {arg.split("=", 1)[0] for arg in passed if arg.startswith("-")}
    argv: list[str] = []
    for flag, value in options.items():
        if flag in given or value in ("", False, None):
            continue
        argv.extend([flag] if value is True else [flag, str(value)])
    return argv + passed


def current_defaults() -> tuple[str, dict[str, str | bool]]:
    """Where the defaults live and what they are now, for --help; reading them never asks or saves."""
    path = options_path()
    if not path.exists():
        return f"saved defaults: none yet ({path}); the first run at a terminal asks, others use:", default_options()
    try:
        return f"saved defaults ({path}):", read_saved_options(path)
    except UserError as error:
        return f"saved defaults: {error}. Built-in defaults:", default_options()


def build_help_parser() -> argparse.ArgumentParser:
    """The harness's flags under aipep-bench's name, with its own flag and the saved defaults added."""
    heading, options = current_defaults()
    listed = [f"  {flag} {_shown(value)}" for flag, value in options.items()]
    defaults_text = "\n".join([heading, *listed, "A flag given on the command line wins over its saved default."])
    parser = build_parser(
        prog=PROG,
        description="Run a benchmark spec with your saved defaults, asked for once at a terminal.",
        epilog=f"{defaults_text}\n\n{exit_status_help()}",
        flags_title="harness options (passed through unchanged)",
    )
    parser.add_argument(
        "--reset_options", action="store_true", help="ask the first-run questions again (at a terminal) and save them"
    )
    parser.set_defaults(**{flag.removeprefix("--"): value for flag, value in options.items()})
    return parser


def _shown(value: str | bool) -> str:
    return "on" if value is True else "off" if value is False else value or "(none)"


def main(argv: list[str] | None = None) -> int:
    passed = list(sys.argv[1:] if argv is None else argv)
    if any(arg in HELP_FLAGS for arg in passed):
        build_help_parser().print_help()
        return 0
    reset = "--reset_options" in passed
    passed = [arg for arg in passed if arg != "--reset_options"]
    try:
        options = load_options(reset, interactive=sys.stdin.isatty() and sys.stdout.isatty())
    except KeyboardInterrupt:
        print(flush=True)
        print(f"{PROG}: interrupted; nothing saved", file=sys.stderr)
        return EXIT_INTERRUPTED
    except EOFError:
        print(flush=True)
        print(
            f"{PROG}: error: input ended before the first-run questions were answered; nothing saved", file=sys.stderr
        )
        return EXIT_NO_ANSWER
    if REMOTE_FLAG in passed:
        return _lab_submit([arg for arg in passed if arg != REMOTE_FLAG])
    return harness_main(harness_argv(options, passed))


def _lab_submit(passed: list[str]) -> int:
    """The run as a lab job: the harness's flags go to `aipep-lab submit` as they are."""
    broker = os.environ.get(LAB_BROKER_ENV)
    if LAB_BROKER_FLAG in passed:
        index = passed.index(LAB_BROKER_FLAG)
        broker = passed[index + 1] if index + 1 < len(passed) else None
        passed = passed[:index] + passed[index + 2 :]
    if not broker:
        print(f"{PROG}: error: {REMOTE_FLAG}: expected {LAB_BROKER_FLAG} URL or ${LAB_BROKER_ENV}", file=sys.stderr)
        return UserError.exit_status
    try:
        from lab.cli import main as lab_main
    except ModuleNotFoundError as error:
        print(f"{PROG}: error: {REMOTE_FLAG}: the device lab needs the lab extra ({error.name})", file=sys.stderr)
        return UserError.exit_status
    return lab_main(["submit", "--broker", broker, *passed])


if __name__ == "__main__":
    sys.exit(main())
