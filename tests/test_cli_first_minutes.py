"""A new user's first minutes with the command lines: asking, help, typos and round budgets.

The first-run questions are driven through a real pseudo-terminal, since "at a terminal" is
what decides whether aipep-bench asks; every read there has a deadline.
"""

import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main as harness_main

REPO = Path(__file__).resolve().parent.parent
RUN_BENCH = REPO / "run_bench.py"
DEADLINE_S = 60.0


def user_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }


def saved_options(tmp_path: Path) -> Path:
    return tmp_path / "config" / "aipep" / "run_bench.json"


class Terminal:
    """A program whose stdin, stdout, stderr and controlling terminal are one pseudo-terminal."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.chdir(cwd)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.output = ""
        self.deadline = time.monotonic() + DEADLINE_S

    def read_until(self, text: str) -> str:
        """Output up to and including `text`; fails at the deadline or when the program closes first."""
        while text not in self.output:
            if not self._read_some():
                raise AssertionError(f"never printed {text!r}; printed:\n{self.output}")
        return self.output

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def interrupt(self) -> None:
        """Ctrl-C once the program sleeps waiting for input.

        A SIGINT that lands between the prompt's write and the blocking read only sets Python's
        flag, and the read then waits for a key that never comes; a user would press Ctrl-C again,
        a test must not depend on that timing.
        """
        while _state(self.pid) != "S":
            if time.monotonic() > self.deadline:
                raise AssertionError(f"never waited for input; printed:\n{self.output}")
            time.sleep(0.01)
        self.type(b"\x03")

    def finish(self) -> tuple[int, str]:
        """Read to the end and wait for the exit status; a program still running at the deadline is killed."""
        while self._read_some():
            pass
        while time.monotonic() < self.deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status), self.output.replace("\r\n", "\n")
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        raise AssertionError(f"still running after {DEADLINE_S}s; printed:\n{self.output}")

    def _read_some(self) -> bool:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return False
        ready, _, _ = select.select([self.fd], [], [], remaining)
        if not ready:
            return False
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:  # EIO: the program closed its side of the terminal
            return False
        self.output += chunk.decode(errors="replace")
        return bool(chunk)


def _state(pid: int) -> str:
    """The process's scheduler state from /proc (R running, S sleeping, ...)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0]


def run_bench_at_terminal(tmp_path: Path, *args: str) -> Terminal:
    return Terminal([sys.executable, str(RUN_BENCH), *args], user_env(tmp_path), tmp_path)


def lines_after(output: str, marker: str) -> list[str]:
    """The non-empty lines printed after the last `marker`, without the terminal's echo of ^C or ^D."""
    tail = output.rsplit(marker, 1)[1]
    lines = [line.replace("^C", "").replace("^D", "").strip() for line in tail.splitlines()]
    return [line for line in lines if line]


def test_ctrl_c_at_a_first_run_question_is_one_line_status_130_and_saves_nothing(tmp_path):
    terminal = run_bench_at_terminal(tmp_path, "-b", "spec.json")
    terminal.read_until("Model cache directory")
    terminal.type(str(tmp_path / "models").encode() + b"\r")
    terminal.read_until("SQLite results database")
    terminal.interrupt()
    status, output = terminal.finish()
    assert status == 130, output
    assert "Traceback" not in output
    assert lines_after(output, "]: ") == ["aipep-bench: interrupted; nothing saved"], output
    assert not saved_options(tmp_path).parent.exists() or not any(saved_options(tmp_path).parent.iterdir())


def test_ctrl_d_at_a_first_run_question_is_one_line_nonzero_and_saves_nothing(tmp_path):
    terminal = run_bench_at_terminal(tmp_path, "-b", "spec.json")
    terminal.read_until("Model cache directory")
    terminal.type(b"\x04")
    status, output = terminal.finish()
    assert status != 0, output
    assert "Traceback" not in output
    assert lines_after(output, "]: ") == [
        "aipep-bench: error: input ended before the first-run questions were answered; nothing saved"
    ], output
    assert not saved_options(tmp_path).parent.exists() or not any(saved_options(tmp_path).parent.iterdir())


def test_help_at_a_terminal_is_aipep_bench_usage_and_asks_nothing(tmp_path):
    status, output = run_bench_at_terminal(tmp_path, "--help").finish()
    assert status == 0, output
    assert output.startswith("usage: aipep-bench"), output
    assert "usage: harness" not in output
    assert "aipep: first run" not in output and "Model cache directory" not in output
    assert "--reset_options" in output
    assert "harness options (passed through unchanged)" in output
    assert "--max_rounds" in output and "--benchmark_file" in output
    flat = " ".join(output.split())
    assert f"saved defaults: none yet ({saved_options(tmp_path)})" in flat
    assert f"--model_cache {tmp_path / 'cache' / 'aipep' / 'models'}" in flat
    assert f"--db {tmp_path / 'data' / 'aipep' / 'aipep.db'}" in flat
    assert not saved_options(tmp_path).exists()


def test_help_shows_the_saved_defaults(tmp_path):
    saved_options(tmp_path).parent.mkdir(parents=True)
    saved_options(tmp_path).write_text(json.dumps({"--db": str(tmp_path / "mine.db"), "--screen_reporter": False}))
    done = subprocess.run(
        [sys.executable, str(RUN_BENCH), "-h"],
        capture_output=True,
        text=True,
        env=user_env(tmp_path),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        timeout=DEADLINE_S,
    )
    assert done.returncode == 0, done.stderr
    flat = " ".join(done.stdout.split())
    assert f"saved defaults ({saved_options(tmp_path)}):" in flat
    assert f"--db {tmp_path / 'mine.db'}" in flat
    assert "--screen_reporter off" in flat
    assert "exit status:" in flat


def test_harness_help_lists_exit_statuses_and_the_default_table():
    done = subprocess.run(
        [sys.executable, "-m", "harness", "--help"], capture_output=True, text=True, cwd=REPO, timeout=DEADLINE_S
    )
    assert done.returncode == 0, done.stderr
    statuses = done.stdout.split("exit status:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in statuses] == ["0", "1", "2", "3", "4"]
    assert "--fail_on_regression" in statuses[3]
    assert "results server" in statuses[4] and "token" in statuses[4]
    screen = " ".join(done.stdout.split("--screen_reporter ", 1)[1].split("--simple_screen_reporter\n")[0].split())
    assert "the default when none of --simple_screen_reporter, --local_reporter, --simple_local_reporter" in screen


def test_platforms_list_unknown_platform_is_a_usage_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "platforms", "list", "-p", "iphone"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=DEADLINE_S,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "python -m platforms: error: -p/--platform: unknown platform 'iphone', expected one of android, host, ssh\n"
    )


def console_script(name: str) -> str:
    """The installed console script, next to this interpreter (as a virtualenv puts it)."""
    found = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    assert found, f"console script {name} is not installed; pip install -e . first"
    return found


UNRECOGNIZED = "unrecognized arguments: "
# Each abbreviation names a real flag of its command; argparse used to take it for that flag.
ABBREVIATIONS = {
    "harness": (["harness", "-b", "missing.json", "--max_round", "8"], UNRECOGNIZED + "--max_round"),
    "aipep-bench": (["aipep-bench", "-b", "missing.json", "--max_round", "8"], UNRECOGNIZED + "--max_round"),
    "repo_driver": (
        ["repo_driver", "--repo_dir", ".", "--framework", "microkernel", "-b", "missing.json", "--max_round", "8"],
        UNRECOGNIZED + "--max_round",
    ),
    "repo_driver status": (["repo_driver", "status", "--las", "3"], UNRECOGNIZED + "--las"),
    "aipep-server serve": (
        ["aipep-server", "serve", "--db", "sqlite:///server.db", "--thread", "0"],
        UNRECOGNIZED + "--thread",
    ),
    "aipep-server token": (
        ["aipep-server", "token", "create", "--db", "sqlite:///server.db", "--nam", "ci"],
        "required: --name",
    ),
    "python -m platforms": ([sys.executable, "-m", "platforms", "list", "--plat", "host"], UNRECOGNIZED + "--plat"),
}


@pytest.mark.parametrize("script", ABBREVIATIONS)
def test_abbreviated_flags_are_refused(tmp_path, script):
    argv, refusal = ABBREVIATIONS[script]
    command = [console_script(argv[0]), *argv[1:]] if argv[0] != sys.executable else argv
    env = {**user_env(tmp_path), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, timeout=DEADLINE_S
    )
    assert done.returncode == 2, done.stderr
    assert refusal in done.stderr, done.stderr
    assert not (tmp_path / "server.db").exists()


def generic_ab_spec(tmp_path: Path, **rounds) -> Path:
    """A spec whose command leaves a marker when it runs, so a test can tell that nothing ran."""
    code = f"open({str(tmp_path / 'ran')!r}, 'w').close()"
    test = {"identifier": "t", "metric": "delay", "iter": 1, "commands": [f"{{program}} -c {json.dumps(code)}"]}
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"model": {"name": "scripted", "format": "generic"}, "tests": [{**test, **rounds}]}))
    return spec


def ab_info() -> str:
    return json.dumps(
        {
            "treatment": {"program": sys.executable, "commit": "new", "commit_time": 2},
            "control": {"program": sys.executable, "commit": "old", "commit_time": 1},
        }
    )


def run_harness(tmp_path: Path, spec: Path, *flags: str) -> int:
    db = tmp_path / "aipep.db"
    return harness_main(["-b", str(spec), "--info", ab_info(), "--db", str(db), "--model_cache", str(tmp_path), *flags])


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            ["--min_rounds", "2", "--max_rounds", "2"],
            "harness: error: --max_rounds: expected at least 5, got 2: at alpha 0.05 no regression can be "
            "significant in fewer rounds (--min_rounds may stay lower; the first look waits for enough rounds)\n",
        ),
        (
            ["--alpha", "0.01", "--min_rounds", "2", "--max_rounds", "6"],
            "harness: error: --max_rounds: expected at least 7, got 6: at --alpha 0.01 no regression can be "
            "significant in fewer rounds (--min_rounds may stay lower; the first look waits for enough rounds)\n",
        ),
        (["--min_rounds", "0"], "harness: error: --min_rounds: expected an integer >= 1, got 0\n"),
        (["--alpha", "1.5"], "harness: error: --alpha: expected a number between 0 and 1, got 1.5\n"),
        (
            ["--min_abs_change_us", "-1"],
            "harness: error: --min_abs_change_us: expected microseconds >= 0 (0: no floor), got -1\n",
        ),
    ],
    ids=["max_below_fewest", "fewest_follows_alpha", "min_below_one", "alpha_out_of_range", "negative_floor"],
)
def test_round_flags_too_small_to_ever_conclude_are_one_line_before_anything_runs(tmp_path, capsys, flags, expected):
    spec = generic_ab_spec(tmp_path)
    assert run_harness(tmp_path, spec, *flags) == 2
    assert capsys.readouterr().err == expected
    assert not (tmp_path / "ran").exists()
    assert not (tmp_path / "aipep.db").exists()


@pytest.mark.parametrize(
    ("rounds", "flags", "expected"),
    [
        (
            {"min_rounds": 2, "max_rounds": 3},
            [],
            "harness: error: spec.json: tests[0].max_rounds: expected at least 5, got 3: at alpha 0.05 no regression "
            "can be significant in fewer rounds (min_rounds may stay lower; the first look waits for enough rounds)\n",
        ),
        (
            {"alpha": 0.01, "min_rounds": 2, "max_rounds": 6},
            [],
            "harness: error: spec.json: tests[0].max_rounds: expected at least 7, got 6: at alpha 0.01 no regression "
            "can be significant in fewer rounds (min_rounds may stay lower; the first look waits for enough rounds)\n",
        ),
        (
            {"min_rounds": 10, "max_rounds": 12},
            ["--max_rounds", "9"],
            "harness: error: --max_rounds: expected an integer >= min_rounds (10), got 9\n",
        ),
    ],
    ids=["max_below_fewest", "fewest_follows_alpha", "flag_below_spec_min"],
)
def test_spec_rounds_too_small_name_the_file_and_field(tmp_path, capsys, rounds, flags, expected):
    spec = generic_ab_spec(tmp_path, **rounds)
    assert run_harness(tmp_path, spec, *flags) == 2
    assert capsys.readouterr().err == expected
    assert not (tmp_path / "ran").exists()
    assert not (tmp_path / "aipep.db").exists()


def test_saved_options_that_are_not_an_object_are_one_line(tmp_path):
    saved_options(tmp_path).parent.mkdir(parents=True)
    saved_options(tmp_path).write_text("[1]")
    done = subprocess.run(
        [sys.executable, str(RUN_BENCH), "-b", "spec.json"],
        capture_output=True,
        text=True,
        env=user_env(tmp_path),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        timeout=DEADLINE_S,
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"run_bench: error: {saved_options(tmp_path)}: saved options unreadable (expected a JSON object); "
        "run with --reset_options\n"
    )
