"""The typed job: JSON round trip, one-line mistakes, the command line's job, declared platform options."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from aipep_core.errors import UserError
from aipep_core.job import (
    Arm,
    Arms,
    Job,
    Labels,
    ModelCacheOptions,
    PlatformSelection,
    RemoteReporter,
    Reporters,
    RunSettings,
    RunStopped,
    RunType,
)
from aipep_core.spec import load_benchmarks
from harness.cli import main as harness_main
from harness.cli_args import build_parser, parse_job
from harness.job_runner import run_job
from harness.run_meta import build_meta
from platforms import get_platform
from repo_driver.git_follower import CommitInfo
from repo_driver.harness_runs import BuiltCommit, HarnessRuns
from repo_driver.stopping import Stopped
from tests.shipped_specs import MICROKERNEL_SPEC

REPO = Path(__file__).resolve().parent.parent

# Every field of every part differs from its default, so a field the JSON form drops shows.
FULL_JOB = Job(
    specs=("specs/a.json", "specs/b.json"),
    arms=Arms(
        Arm(
            "treatment",
            "build/new",
            "abc123",
            1_700_000_002,
            {"variant": "int8", "threads": [1, 2]},
            "a" * 32,
            {"BACKEND": "mkl"},
        ),
        Arm("control", "build/old", "def456", 1_700_000_001, {"variant": "fp32"}, "b" * 32, {"BACKEND": "eigen"}),
    ),
    framework="microkernel",
    platform=PlatformSelection(
        "ssh",
        ("pi@board:22", "pi@other:22"),
        ("pi@other:22",),
        {"ssh_identity": "keys/id", "connect_timeout": 2.5, "ssh_trust_on_first_use": True, "temperature_files": ["t"]},
    ),
    settings=RunSettings(
        regression_threshold=5.0,
        alpha=0.01,
        min_rounds=6,
        max_rounds=40,
        round_statistic="median",
        round_design="duet",
        stop_when="net",
        timeout=30.0,
        run_type=RunType.VERIFY,
        min_abs_change_us=2.5,
    ),
    model_cache=ModelCacheOptions("cache/models", "models/root", 12.5),
    reporters=Reporters(
        screen=True,
        simple_screen=True,
        local_dir="out/local",
        simple_local_dir="out/simple",
        report_dir="out/reports",
        db="out/aipep.db",
        remote=RemoteReporter("https://results.example/", "out/outbox", "secret", "TEAM_TOKEN"),
    ),
    labels=Labels(user_identifier="team \ud800 nightly", driver_role="verify"),
    fail_on_regression=True,
    spec_md5s=("c" * 32, "d" * 32),
    job_id="0123abcd",
    string_map={"MODEL_DIR": "models/squeezenet"},
)


def default_of(field):
    if field.default is not dataclasses.MISSING:
        return field.default
    return field.default_factory() if field.default_factory is not dataclasses.MISSING else dataclasses.MISSING


def fields_at_default(value, path="job"):
    """The paths of fields still at their default (empty when every field was set)."""
    same = []
    for field in dataclasses.fields(value):
        current = getattr(value, field.name)
        if current == default_of(field):
            same.append(f"{path}.{field.name}")
        if dataclasses.is_dataclass(current):
            same.extend(fields_at_default(current, f"{path}.{field.name}"))
    return same


def test_every_field_survives_the_json_round_trip():
    assert fields_at_default(FULL_JOB) == []
    text = FULL_JOB.to_json()
    assert Job.from_json(text) == FULL_JOB
    assert Job.from_json(text).to_json() == text
    assert isinstance(Job.from_json(text).settings.run_type, RunType)
    assert "secret" not in repr(FULL_JOB)


def test_a_minimal_job_fills_every_default():
    job = Job.from_json(json.dumps({"job_version": 1, "specs": ["spec.json"]}))
    assert job == Job(specs=("spec.json",))


def edited(change):
    document = json.loads(FULL_JOB.to_json())
    change(document)
    return json.dumps(document)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{bad", "job: expected JSON, Expecting property name enclosed in double quotes at line 1 column 2"),
        ("[]", "job: expected a JSON object"),
        (edited(lambda d: d.pop("job_version")), "job.job_version: expected 1, got None"),
        (edited(lambda d: d.pop("specs")), "job.specs: missing, expected a value"),
        (edited(lambda d: d.update(specs="a.json")), "job.specs: expected a list, got 'a.json'"),
        (edited(lambda d: d["specs"].append(3)), "job.specs[2]: expected a string, got 3"),
        (
            edited(lambda d: d["platform"].update(optons={})),
            "job.platform.optons: unknown field, expected one of name, devices, excluded_devices, options",
        ),
        (edited(lambda d: d["settings"].update(alpha="low")), "job.settings.alpha: expected a number, got 'low'"),
        (
            edited(lambda d: d["settings"].update(max_rounds=8.5)),
            "job.settings.max_rounds: expected an integer, got 8.5",
        ),
        (
            edited(lambda d: d["settings"].update(min_rounds=True)),
            "job.settings.min_rounds: expected an integer, got True",
        ),
        (
            edited(lambda d: d["settings"].update(run_type="fast")),
            "job.settings.run_type: expected one of benchmark, verify, got 'fast'",
        ),
        (
            edited(lambda d: d["arms"]["treatment"].update(commit_time="yesterday")),
            "job.arms.treatment.commit_time: expected an integer, got 'yesterday'",
        ),
        (edited(lambda d: d["arms"].update(control=[])), "job.arms.control: expected an object, got []"),
        (
            edited(lambda d: d["arms"]["control"].update(name="treatment")),
            "arms.control.name: expected 'control', got 'treatment'",
        ),
        (edited(lambda d: d["reporters"]["remote"].pop("url")), "job.reporters.remote.url: missing, expected a string"),
        (edited(lambda d: d["labels"].update(driver_role=1)), "job.labels.driver_role: expected a string, got 1"),
        (
            edited(lambda d: d.update(fail_on_regression="yes")),
            "job.fail_on_regression: expected true or false, got 'yes'",
        ),
    ],
)
def test_a_malformed_job_is_one_line_naming_the_field(text, message):
    with pytest.raises(UserError) as raised:
        Job.from_json(text)
    assert str(raised.value) == message


def test_the_command_line_builds_the_job_a_caller_would_build_by_hand():
    info = {
        "treatment": {"program": "build/new", "commit": "abc123", "commit_time": 1_700_000_002},
        "control": {"program": "build/old", "commit": "def456", "commit_time": 1_700_000_001},
    }
    job = parse_job([
        "-b", "specs/a.json", "--framework", "microkernel", "-p", "ssh",
        "-d", "pi@board:22, pi@other:22", "--excluded_devices", "pi@other:22",
        "--ssh_identity", "keys/id", "--connect_timeout", "2.5", "--ssh_trust_on_first_use",
        "--temperature_files", "t1,t2",
        "--info", json.dumps(info),
        "--model_cache", "cache/models", "--root_model_dir", "models/root", "--max_download_mb", "12.5",
        "--simple_screen_reporter", "--local_reporter", "out/local", "--simple_local_reporter", "out/simple",
        "--report", "out/reports",
        "--db", "out/aipep.db", "--remote_reporter", "https://results.example/", "--remote_outbox", "out/outbox",
        "--remote_access_token", "secret",
        "--timeout", "30", "--user_identifier", "nightly", "--run_type", "verify", "--fail_on_regression",
        "--regression_threshold", "5", "--alpha", "0.01", "--min_rounds", "6", "--max_rounds", "40",
        "--round_statistic", "median", "--min_abs_change_us", "2.5", "--round_design", "duet",
        "--stop_when", "net",
        "--string_map", '{"MODEL_DIR": "models/squeezenet"}',
    ])  # fmt: skip
    assert job == Job(
        specs=("specs/a.json",),
        arms=Arms(
            Arm("treatment", "build/new", "abc123", 1_700_000_002), Arm("control", "build/old", "def456", 1_700_000_001)
        ),
        framework="microkernel",
        platform=PlatformSelection(
            "ssh",
            ("pi@board:22", "pi@other:22"),
            ("pi@other:22",),
            {
                "ssh_identity": "keys/id",
                "connect_timeout": 2.5,
                "ssh_trust_on_first_use": True,
                "temperature_files": ["t1", "t2"],
            },
        ),
        settings=RunSettings(
            5.0,
            0.01,
            6,
            40,
            "median",
            30.0,
            RunType.VERIFY,
            min_abs_change_us=2.5,
            round_design="duet",
            stop_when="net",
        ),
        model_cache=ModelCacheOptions("cache/models", "models/root", 12.5),
        reporters=Reporters(
            screen=False,
            simple_screen=True,
            local_dir="out/local",
            simple_local_dir="out/simple",
            report_dir="out/reports",
            db="out/aipep.db",
            remote=RemoteReporter("https://results.example/", "out/outbox", "secret"),
        ),
        labels=Labels(user_identifier="nightly"),
        fail_on_regression=True,
        string_map={"MODEL_DIR": "models/squeezenet"},
    )
    assert Job.from_json(job.to_json()) == job


def test_the_screen_table_is_the_default_reporter_and_no_db_stores_nothing():
    job = parse_job(["-b", "spec.json", "--no_db"])
    assert job.reporters == Reporters(screen=True, db=None)
    assert job.arms == Arms(Arm("treatment"))


def test_every_declared_platform_option_is_a_flag():
    help_text = build_parser().format_help()
    for flag in ("--android_dir", "--adb_key_dir", "--set_freq", "--ssh_identity", "--ssh_known_hosts", "--remote_dir"):
        assert flag in help_text


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            ["-p", "host", "--android_dir", "/data/x"],
            "--android_dir: not an option of platform host (its options: none)",
        ),
        (["-p", "host", "--set_freq", "max"], "--set_freq: not an option of platform host (its options: none)"),
        (
            ["-p", "ssh", "-d", "pi@127.0.0.1:1", "--android_dir", "/data/x"],
            "--android_dir: not an option of platform ssh",
        ),
        (["-p", "android", "-d", "127.0.0.1:1", "--set_freq", "turbo"], "--set_freq: invalid choice: 'turbo'"),
    ],
)
def test_a_platform_option_the_platform_does_not_take_is_one_line_and_status_2(tmp_path, capsys, flags, expected):
    status = harness_main(["-b", str(MICROKERNEL_SPEC), "--db", str(tmp_path / "aipep.db"), *flags])
    err = capsys.readouterr().err
    assert status == 2
    assert expected in err and err.count("\n") == 1
    assert not (tmp_path / "aipep.db").exists()


def test_an_unknown_key_in_a_jobs_platform_options_is_refused_before_anything_runs(tmp_path):
    job = Job(
        specs=(str(MICROKERNEL_SPEC),),
        platform=PlatformSelection("ssh", ("pi@127.0.0.1:1",), (), {"ssh_identiy": "keys/id"}),
        reporters=Reporters(db=str(tmp_path / "aipep.db")),
    )
    with pytest.raises(
        UserError, match=r"^--ssh_identiy: not an option of platform ssh \(its options: --ssh_identity,"
    ):
        run_job(job)
    assert not (tmp_path / "aipep.db").exists()


def test_a_platform_option_of_the_wrong_type_is_refused():
    with pytest.raises(UserError, match=r"^--connect_timeout: expected a number, got 'soon' \(platform ssh\)$"):
        get_platform("ssh", device="pi@127.0.0.1:1", connect_timeout="soon")
    with pytest.raises(UserError, match=r"^--reboot: not an option of platform ssh"):
        get_platform("ssh", device="pi@127.0.0.1:1", reboot=True)


def test_platforms_list_takes_the_same_declared_flags(tmp_path):
    listed = subprocess.run(
        [sys.executable, "-m", "platforms", "list", "-p", "host", "--ssh_identity", "keys/id"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert listed.returncode == 2
    assert listed.stderr == (
        "python -m platforms: error: --ssh_identity: not an option of platform host (its options: none)\n"
    )


def test_a_stop_before_a_round_raises_run_stopped_and_reports_nothing(tmp_path, build_microkernel, capsys):
    program = str(build_microkernel())
    job = Job(
        specs=(str(MICROKERNEL_SPEC),),
        arms=Arms(Arm("treatment", program, "new"), Arm("control", program, "old")),
        reporters=Reporters(simple_screen=True, db=str(tmp_path / "aipep.db")),
    )
    stop = threading.Event()
    stop.set()
    with pytest.raises(RunStopped, match="stopped on request after 0 rounds"):
        run_job(job, stop=stop)
    assert "{" not in capsys.readouterr().out


def built(program: Path, commit: str) -> BuiltCommit:
    return BuiltCommit(CommitInfo(commit * 4, 1_700_000_000, f"commit {commit}"), program)


def test_a_job_that_names_itself_gives_the_same_result_ids_when_run_again(tmp_path, build_microkernel):
    flags = ["-b", str(MICROKERNEL_SPEC), "--no_db", "--simple_local_reporter", str(tmp_path / "out")]
    info = {"treatment": {"program": str(build_microkernel())}}
    flags += ["--model_cache", str(tmp_path / "m"), "--info", json.dumps(info)]
    job = dataclasses.replace(parse_job(flags), job_id="lab-job-1")
    first, again = run_job(job), run_job(job)
    assert [result.id for result in first.results] == [result.id for result in again.results]
    assert first.results[0].id == job.result_id(0, "microkernel_default", 0)
    fresh = dataclasses.replace(job, job_id=None)
    assert run_job(fresh).results[0].id != run_job(fresh).results[0].id


def test_the_driver_role_is_in_meta_before_any_reporter_sees_the_result(tmp_path, build_microkernel, capsys):
    job = parse_job(["-b", str(MICROKERNEL_SPEC), "--simple_screen_reporter", "--model_cache", str(tmp_path / "m")])
    runs = HarnessRuns(job, threading.Event())
    results = runs.run("host", built(build_microkernel(), "ab12"), None, role="baseline")
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    printed = json.loads(line)
    assert printed["meta"]["driver_role"] == "baseline"
    assert printed["meta"]["commit"] == "ab12" * 4
    assert results[0].meta["driver_role"] == "baseline"


def test_a_stop_during_a_driver_run_is_the_drivers_stopped(tmp_path, build_microkernel):
    job = parse_job(["-b", str(MICROKERNEL_SPEC), "--simple_screen_reporter", "--model_cache", str(tmp_path / "m")])
    stop = threading.Event()
    stop.set()
    program = build_microkernel()
    with pytest.raises(Stopped):
        HarnessRuns(job, stop).run("host", built(program, "cd34"), built(program, "ab12"), role="benchmark")


def test_meta_holds_everything_the_job_decides():
    (spec,) = load_benchmarks(str(MICROKERNEL_SPEC))
    device = {"platform": "host", "identifier": "here"}
    versions = {"treatment": {"runtime": "2"}, "control": {"runtime": "1"}}
    meta = build_meta(FULL_JOB, spec, spec.tests[0], "microkernel", device, FULL_JOB.arms.all(), versions)
    assert {key: meta[key] for key in ("commit", "control_commit", "control_commit_time", "control_program")} == {
        "commit": "abc123",
        "control_commit": "def456",
        "control_commit_time": 1_700_000_001,
        "control_program": "build/old",
    }
    assert (meta["run_type"], meta["user_identifier"], meta["driver_role"]) == (
        "verify",
        "team \ud800 nightly",
        "verify",
    )
    assert (meta["program_versions"], meta["control_program_versions"]) == (versions["treatment"], versions["control"])
    assert meta["arm_options"] == {"treatment": {"variant": "int8", "threads": [1, 2]}, "control": {"variant": "fp32"}}
