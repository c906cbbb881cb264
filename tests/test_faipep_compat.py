"""FAI-PEP users' files work unchanged: every spec shape FAI-PEP's own specifications use loads,
the runnable ones run end to end against stand-in programs, and each refusal is one line.

The fixtures under tests/data/faipep/ are our own files written in FAI-PEP's shapes; the
stand-ins print observer lines (tests/data/faipep/stand_in_benchmark.py) or replay
benchmark_model's output (tests/data/tflite/replay_benchmark_model.py).
"""

import io
import json
import re
import sys
from pathlib import Path

import pytest
import requests
from rich.console import Console

import harness.job_runner
from aipep_core.errors import UserError
from aipep_core.job import Arm, Job
from aipep_core.spec import load_benchmarks
from harness.cli import main
from harness.cli_args import parse_info
from harness.profile.cli import main as profile_main
from harness.report_cli import main as report_main
from harness.reporters.screen import ScreenReporter
from harness.run_tokens import run_tokens
from harness.store.result_store import ResultStore
from tests.server.requests_helpers import TIMEOUT, post_record
from tests.server.server_thread import ServerThread

DATA = Path(__file__).resolve().parent / "data" / "faipep"
SPECS = DATA / "specifications"
SQUEEZE = SPECS / "caffe2/squeeze_like/squeeze_like.json"
ARGUMENTS = SPECS / "pytorch/arguments_like/arguments_like.json"
MOBILENET = SPECS / "tflite/mobilenet_like/mobilenet_like.json"
POWER = SPECS / "caffe2/power_like/power_like.json"
ACCURACY = SPECS / "pytorch/accuracy_like/accuracy_like.json"
PER_FRAMEWORK = SPECS / "caffe2/per_framework/per_framework.json"
MKL_LIST = SPECS / "lists/caffe2_mkl.json"
OLD_FORMAT = SPECS / "caffe2/old_format/old_format.json"
MODEL_DIR_LIKE = SPECS / "caffe2/model_dir_like/model_dir_like.json"
GENERIC = SPECS / "generic/generic_like/generic_like.json"
REPLAY_BENCHMARK_MODEL = Path(__file__).resolve().parent / "data" / "tflite" / "replay_benchmark_model.py"


def program(tmp_path, name, script, *extra):
    """An executable that runs `script` under this interpreter, like a benchmark binary."""
    path = tmp_path / name
    arguments = " ".join(f'"{arg}"' for arg in extra)
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@" {arguments}\n')
    path.chmod(0o755)
    return str(path)


def speed_benchmark(tmp_path):
    return program(tmp_path, "speed_benchmark", DATA / "stand_in_benchmark.py")


def run(tmp_path, capsys, spec, treatment, control=None, *args):
    arms = {"treatment": {"program": treatment, "commit": "new"}}
    if control is not None:
        arms["control"] = {"programs": {"program": {"location": control}}, "commit": "old"}
    status = main(
        [
            "--db", str(tmp_path / "aipep.db"),
            "--model_cache", str(tmp_path / "models"),
            "-b", str(spec),
            "--info", json.dumps(arms),
            "--simple_screen_reporter",
            *args,
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    results = [json.loads(line) for line in captured.out.splitlines() if line.startswith("{")]
    return status, results, captured.err


def run_info(tmp_path, capsys, spec, info, *args):
    """Like `run`, with the `--info` document given whole."""
    argv = ["--db", str(tmp_path / "aipep.db"), "--model_cache", str(tmp_path / "models"), "-b", str(spec)]
    status = main([*argv, "--info", json.dumps(info), "--simple_screen_reporter", *args])
    captured = capsys.readouterr()
    results = [json.loads(line) for line in captured.out.splitlines() if line.startswith("{")]
    return status, results, captured.err


def stored_commands(tmp_path, model):
    """Every process's command of the model's one stored result, by log name."""
    with ResultStore(tmp_path / "aipep.db") as store:
        [stored] = store.find_runs(model=model, include_logs=True)
    return {
        name.removesuffix(".command"): text.split() for name, text in stored.logs.items() if name.endswith(".command")
    }


def tokens_spec(tmp_path, command, repeat=2, **fields):
    spec = tmp_path / "tokens_like.json"
    test = {"commands": [command], "identifier": "tokens", "iter": 2, "metric": "delay", **fields}
    model = {"format": "pytorch", "name": "tokens_like", "repeat": repeat}
    spec.write_text(json.dumps({"model": model, "tests": [test]}))
    return spec


def test_every_fixture_shape_loads():
    string_map = {"MODEL_DIR": str(SQUEEZE.parent), "DATASET_DIR": "data"}
    loaded = {path.name: load_benchmarks(path, string_map) for path in sorted(SPECS.rglob("*.json"))}
    assert len(loaded) == 10
    [model_dir_like] = loaded["model_dir_like.json"]
    assert model_dir_like.model.files["predict"].location == str(SQUEEZE.parent / "predict_net.pb")
    [squeeze] = loaded["squeeze_like.json"]
    assert squeeze.tests[1].commands == ("{program} --net {files.predict} --init_net {files.init} --iter {iter}",)
    assert squeeze.tests[0].statistics == ("mean", "p50", "p95", "p99")
    [per_framework] = loaded["per_framework.json"]
    assert set(per_framework.tests[0].framework_commands) == {"caffe2", "glow"}
    assert [spec.model.command_args for spec in loaded["caffe2_mkl.json"]] == ["--backend mkl"] * 2
    [accuracy] = loaded["accuracy_like.json"]
    assert [file.filename for file in accuracy.tests[0].input_files["images"]] == ["images.txt"]


def test_a_caffe2_spec_runs_with_the_generic_reader_without_a_framework_flag(tmp_path, capsys):
    status, results, err = run(tmp_path, capsys, SQUEEZE, speed_benchmark(tmp_path))
    assert status == 0, err
    assert [r["meta"]["framework"] for r in results] == ["caffe2", "caffe2"]
    latency = results[0]["data"]["NET latency"]
    assert latency["num_runs"] == 5 and {"p95", "p99"} <= set(latency["summary"])
    assert "p95" not in results[1]["data"]["NET latency"]["summary"]
    assert results[1]["meta"]["identifier"] == "singular_command"


def test_a_caffe2_test_without_commands_runs_the_binary_with_flags_from_the_spec(tmp_path, capsys):
    benchmark = speed_benchmark(tmp_path)
    status, results, err = run(tmp_path, capsys, OLD_FORMAT, benchmark)
    assert status == 0, err
    [result] = results
    files = {name: str(OLD_FORMAT.parent / "../squeeze_like" / name) for name in ("predict_net.pb", "init_net.pb")}
    assert result["meta"]["command"] == [
        benchmark, "--net", files["predict_net.pb"], "--warmup", "1", "--iter", "3",
        "--init_net", files["init_net.pb"], "--input_dims", "1,3,8,8", "--input", "data", "--input_type", "float",
        "--run_individual", "true",
    ]  # fmt: skip
    assert result["data"]["NET latency"]["num_runs"] == 3


def test_model_dir_is_the_value_string_map_gives_it_in_locations_and_commands(tmp_path, capsys):
    models = tmp_path / "elsewhere"
    models.mkdir()
    for name in ("init_net.pb", "predict_net.pb"):
        (models / name).write_bytes((SQUEEZE.parent / name).read_bytes())
    string_map = json.dumps({"MODEL_DIR": str(models), "DATASET_DIR": "coco/val"})
    benchmark = speed_benchmark(tmp_path)
    status, [result], err = run(tmp_path, capsys, MODEL_DIR_LIKE, benchmark, None, "--string_map", string_map)
    assert status == 0, err
    assert result["meta"]["command"][-2:] == ["--dataset", "coco/val"]
    # The files were fetched from the folder the map names, not the spec's own folder.
    (models / "predict_net.pb").write_bytes(b"changed")
    status, _, err = run(tmp_path, capsys, MODEL_DIR_LIKE, benchmark, None, "--string_map", string_map)
    assert status == 2 and "model.files.predict" in err


def test_model_dir_without_string_map_is_one_line_naming_the_token_and_the_flag(tmp_path, capsys):
    status, results, err = run(tmp_path, capsys, MODEL_DIR_LIKE, speed_benchmark(tmp_path))
    assert status == 2 and results == [] and err.count("\n") == 1
    location = "model_dir_like.json: model.files.init.location"
    assert f"{location}: {{MODEL_DIR}} is not defined; give its value with --string_map" in err


@pytest.mark.parametrize(
    ("string_map", "fragment"),
    [
        ('{"MODEL_DIR": 3}', "--string_map: expected"),
        ("[1]", "--string_map: expected"),
        ("{", "--string_map: expected"),
        # FAI-PEP appends this entry to a test's one command; aipep has command_args for that.
        ('{"pep_extra_args": "--x 1"}', "--string_map: pep_extra_args: not supported"),
    ],
)
def test_a_string_map_aipep_cannot_honour_is_one_line(tmp_path, capsys, string_map, fragment):
    status, _, err = run(tmp_path, capsys, MODEL_DIR_LIKE, speed_benchmark(tmp_path), None, "--string_map", string_map)
    assert status == 2 and err.count("\n") == 1 and err.startswith(f"harness: error: {fragment}")


def test_aipep_profile_reads_string_map_like_the_harness(capsys):
    assert profile_main(["-b", str(MODEL_DIR_LIKE), "--cpus", "1", "--string_map", "[1]"]) == 2
    assert capsys.readouterr().err.startswith("aipep-profile: error: --string_map: expected a JSON object")


def test_a_benchmark_lists_command_args_end_every_command(tmp_path, capsys):
    status, results, err = run(tmp_path, capsys, MKL_LIST, speed_benchmark(tmp_path))
    assert status == 0, err
    assert len(results) == 3
    assert all(r["meta"]["command"][-2:] == ["--backend", "mkl"] for r in results)
    assert "--glow" not in results[2]["meta"]["command"]


def test_arguments_name_the_program_once_and_model_fields_fill_placeholders(tmp_path, capsys):
    benchmark = program(tmp_path, "pytorch_benchmark", DATA / "stand_in_benchmark.py")
    status, results, err = run(tmp_path, capsys, ARGUMENTS, benchmark)
    assert status == 0, err
    first, second = (r["meta"]["command"] for r in results)
    assert first[0] == benchmark and first[-4:] == ["--batch", "4", "--model_name", "arguments_like"]
    assert second.count(benchmark) == 1
    # The model's preprocess and postprocess ran around the benchmark, each as its own process.
    with ResultStore(tmp_path / "aipep.db") as store:
        stored = store.find_runs(model="arguments_like", include_logs=True)
    commands = [stored[0].logs[f"treatment_{index}.command"] for index in range(3)]
    assert [command.split()[1] for command in commands] == ["--check_input", "--model", "--check_input"]


def test_a_tflite_spec_runs_benchmark_model_and_its_cooldown_is_not_spent_inside_a_test(tmp_path, capsys, monkeypatch):
    slept = []
    real_sleep = harness.job_runner.time.sleep
    monkeypatch.setattr(harness.job_runner.time, "sleep", lambda s: (slept.append(s), real_sleep(s)))
    replay = program(tmp_path, "benchmark_model", REPLAY_BENCHMARK_MODEL)
    status, results, err = run(tmp_path, capsys, MOBILENET, replay, replay, "--min_rounds", "5", "--max_rounds", "5")
    assert status == 0, err
    [result] = results
    assert result["meta"]["round_order"] == ["TC", "CT", "TC", "CT", "TC"]
    assert any(key.startswith("NET") for key in result["data"])
    assert 30 not in slept


def test_cooldown_is_a_pause_between_tests(tmp_path, capsys, monkeypatch):
    slept = []
    real_sleep = harness.job_runner.time.sleep
    monkeypatch.setattr(harness.job_runner.time, "sleep", lambda s: (slept.append(s), real_sleep(s)))
    status, _, err = run(tmp_path, capsys, SQUEEZE, speed_benchmark(tmp_path))
    assert status == 0, err
    assert slept.count(0.2) == 1  # two tests, one pause between them
    assert slept.count(0.01) == 1  # the first test's platform_args.sleep_before_run, before its one process


def no_iter_spec(tmp_path, command):
    spec = tmp_path / "no_iter.json"
    test = {"identifier": "no_iter", "metric": "delay", "commands": [command]}
    spec.write_text(json.dumps({"model": {"name": "no_iter", "format": "pytorch"}, "tests": [test]}))
    return spec


def test_a_test_without_iter_runs_its_command_once_and_keeps_every_sample_it_prints(tmp_path, capsys):
    # FAI-PEP's framework fills a missing iter with -1: the program runs once and decides its own count.
    spec = no_iter_spec(tmp_path, "{program} --iter 4")
    status, [result], err = run(tmp_path, capsys, spec, speed_benchmark(tmp_path))
    assert status == 0, err
    assert result["data"]["NET latency"]["num_runs"] == 4


def test_a_command_using_iter_in_a_test_without_it_is_one_line(tmp_path, capsys):
    spec = no_iter_spec(tmp_path, "{program} --iter {iter}")
    status, results, err = run(tmp_path, capsys, spec, speed_benchmark(tmp_path))
    assert status == 2 and err.count("\n") == 1
    assert "no_iter.json: tests[0].iter: missing, but its command uses {iter}" in err


def test_sleep_before_run_pauses_once_before_the_first_benchmark_command_of_each_arms_run(
    tmp_path, capsys, monkeypatch
):
    slept = []
    real_sleep = harness.job_runner.time.sleep
    monkeypatch.setattr(harness.job_runner.time, "sleep", lambda s: (slept.append(s), real_sleep(s)))
    spec = tmp_path / "settle.json"
    test = {"identifier": "settle", "metric": "delay", "iter": 2, "platform_args": {"sleep_before_run": 0.03}}
    test["commands"] = ["{program} --iter {iter}", "{program} --iter {iter} --work 100"]
    spec.write_text(json.dumps({"model": {"name": "settle", "format": "pytorch"}, "tests": [test]}))
    benchmark = speed_benchmark(tmp_path)
    status, [result], err = run(tmp_path, capsys, spec, benchmark, benchmark, "--min_rounds", "5", "--max_rounds", "5")
    assert status == 0, err
    # Each arm's run of a round (a disturbed round re-run included) paused once, not once per command.
    arm_runs = 2 * (len(result["meta"]["round_order"]) + len(result["meta"]["rerun_rounds"]))
    assert slept.count(0.03) == arm_runs


@pytest.mark.parametrize(("model_timeout", "test_timeout"), [(1, None), (600, 1)])
def test_a_models_or_tests_timeout_bounds_its_processes(tmp_path, capsys, model_timeout, test_timeout):
    spec = tmp_path / "slow.json"
    sleeping = "{program} -c 'import time; time.sleep(60)'"
    test = {"identifier": "slow", "metric": "delay", "iter": 1, "commands": [sleeping]}
    if test_timeout is not None:
        test["timeout"] = test_timeout
    model = {"name": "slow", "format": "pytorch", "timeout": model_timeout}
    spec.write_text(json.dumps({"model": model, "tests": [test]}))
    status, results, err = run(tmp_path, capsys, spec, sys.executable)
    assert status == 1
    assert "timed out after 1" in results[0]["failure"]


def test_a_generic_test_reports_the_programs_own_metrics_for_both_arms_without_a_verdict(tmp_path, capsys):
    script = DATA / "stand_in_generic.py"
    treatment = program(tmp_path, "faster", script, "--rate", "150")
    control = program(tmp_path, "slower", script, "--rate", "100")
    args = ("--min_rounds", "5", "--max_rounds", "10", "--fail_on_regression")
    status, [result], err = run(tmp_path, capsys, GENERIC, treatment, control, *args)
    # FAI-PEP judges only delay tests: a rise in a program's own metric (here a throughput) is no regression.
    assert status == 0, err
    assert result["meta"]["identifier"] == "{ID}"  # FAI-PEP leaves a generic test's identifier as written
    looks = result["meta"]["looks"]
    assert len(result["meta"]["round_order"]) == looks[0] < looks[-1]  # nothing to decide: the first look ends it
    throughput = result["data"]["DECODER tokens_per_second"]
    assert throughput["unit"] == "tokens/s" and throughput["num_runs"] == 3 * looks[0]
    assert set(throughput["values"]) == {150.0, 151.0} and set(throughput["control_values"]) == {100.0, 101.0}
    assert throughput["diff_summary"]["p50"] == 50.0
    assert throughput.get("comparison") is None
    assert result["data"]["MEMORY peak_kv_cache"]["values"] == [64.0] * 3 * looks[0]


def test_a_generic_ab_shows_both_arms_and_their_difference_not_judged_on_screen_in_reports_and_on_the_server(
    tmp_path, capsys
):
    script = DATA / "stand_in_generic.py"
    treatment = program(tmp_path, "faster", script, "--rate", "150")
    control = program(tmp_path, "slower", script, "--rate", "100")
    status, [record], err = run(tmp_path, capsys, GENERIC, treatment, control, "--min_rounds", "5")
    assert status == 0, err
    with ResultStore(tmp_path / "aipep.db") as store:
        result = store.load_run(record["id"])
    # The screen: treatment, control, difference and change side by side, the verdict saying none was made.
    console = Console(file=io.StringIO(), width=200)
    ScreenReporter(console).report(result)
    screen = console.file.getvalue()
    assert re.search(r"control p50 .* difference .* change % .* verdict", screen)
    assert re.search(r"tokens_per_second .* tokens/s .* 150 .* 100 .* 50 .* \+50\.0 .* not judged", screen)
    assert re.search(r"peak_kv_cache .* MB .* 64 .* 64 .* 0 .* \+0\.0 .* not judged", screen)
    # The reports: a section of both arms, not judged, in Markdown and in HTML, with the arms' distributions.
    out = tmp_path / "report"
    assert report_main(["--db", str(tmp_path / "aipep.db"), "--last", "--format", "md", "--out", str(out)]) == 0
    markdown = (out / "report.md").read_text()
    assert "| DECODER tokens_per_second | not judged | 100 | 150 | 50 | +50.0% | tokens/s |" in markdown
    assert "no metric is judged" in markdown and "## Changes" not in markdown
    assert "![DECODER tokens_per_second per arm]" in markdown
    html_path = tmp_path / "report.html"
    assert report_main(["--db", str(tmp_path / "aipep.db"), "--last", "--out", str(html_path)]) == 0
    assert re.search(
        r'<td>DECODER tokens_per_second</td><td class="verdict-not_judged">not judged</td><td>100</td><td>150</td>',
        html_path.read_text(),
    )
    # The results server's page: control p50 beside p50, the verdict cell saying not judged.
    with ServerThread(f"sqlite:///{tmp_path / 'results.db'}") as server:
        assert post_record(server, record).status_code == 201
        page = requests.get(f"{server.url}/results/{record['id']}", timeout=TIMEOUT).text
    row = re.search(
        r'<tr class="verdict-none">\s*<td><a [^>]*>DECODER tokens_per_second</a></td>(.*?)</tr>', page, re.S
    )
    cells = [cell.strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]
    assert cells[0] == "not judged" and cells[-3:] == ["100", "150", "tokens/s"]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"command": "{program}"}, "tests[0].command: a generic test runs its 'commands' list as written"),
        ({"arguments": "--runs 2"}, "tests[0].arguments: a generic test runs its 'commands' list as written"),
        ({"commands": {"pytorch": ["{program}"]}}, "tests[0].commands: a generic test needs its own list"),
    ],
)
def test_a_generic_test_without_its_own_commands_list_is_one_line(tmp_path, change, fragment):
    def generic(document):
        del document["tests"][0]["commands"]
        document["tests"][0].update(change)

    assert fragment in load_refusal(mutated(tmp_path, GENERIC, generic))


def test_a_power_test_is_refused_in_one_line_while_the_others_run(tmp_path, capsys):
    status, results, err = run(tmp_path, capsys, POWER, speed_benchmark(tmp_path))
    assert status == 1
    delay, power = results
    assert delay["status"] == "success" and "NET latency" in delay["data"]
    assert power["status"] == "failure" and "power monitor" in power["failure"]
    refusals = [line for line in err.splitlines() if "refused" in line]
    assert len(refusals) == 1 and "power monitor" in refusals[0]


def test_an_accuracy_test_scores_each_sample_and_compares_the_arms(tmp_path, capsys):
    script = DATA / "stand_in_benchmark.py"
    control = program(tmp_path, "classifier_old", script)
    verdicts = {}
    for wrong in (1, 8):
        treatment = program(tmp_path, f"classifier_wrong_{wrong}", script, "--wrong", str(wrong))
        status, [result], err = run(tmp_path, capsys, ACCURACY, treatment, control)
        assert status == 0, err
        accuracy = result["data"]["NET top1_accuracy"]
        assert accuracy["values"] == [0.0] * wrong + [100.0] * (12 - wrong)
        assert accuracy["control_values"] == [100.0] * 12
        assert accuracy["comparison"]["note"] == f"per sample: {wrong} worse, 0 better of 12 (McNemar)"
        verdicts[wrong] = accuracy["comparison"]["verdict"]
    # One sample of twelve is within chance (p = 1); eight of eight disagreements are not (p < 0.01).
    assert verdicts == {1: "no_change", 8: "regression"}


def test_info_in_the_repo_drivers_programs_form_is_read_like_program():
    arms = parse_info(json.dumps({"treatment": {"programs": {"program": {"location": "/bin/a"}}, "commit": "c"}}))
    assert arms.treatment.program == "/bin/a"


@pytest.mark.parametrize(
    ("arm", "fragment"),
    [
        ({"program": "/bin/a", "shared_libs": ["/lib/x.so"]}, "--info: treatment.shared_libs: shared libraries"),
        ({"programs": {"program": {"location": "/bin/a"}, "helper": {"location": "/bin/b"}}}, "programs.helper"),
    ],
)
def test_info_keys_aipep_cannot_honour_are_one_line(arm, fragment):
    with pytest.raises(UserError) as caught:
        parse_info(json.dumps({"treatment": arm}))
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_run_time_tokens_take_the_values_faipep_gives_them(tmp_path, capsys):
    # FAI-PEP's FrameworkBase._replaceStringMap defines TGTDIR, HOSTDIR, DEVICEHASH and BUILDDIR for every
    # run; its driver numbers a model's repeats in INDEX. A test field holding a token is filled too.
    command = (
        "{program} --iter {iter} --tgt {TGTDIR} --host {HOSTDIR} --device {DEVICEHASH} --build {BUILDDIR} --o {out}"
    )
    spec = tokens_spec(tmp_path, command, out="{TGTDIR}/out_{INDEX}.txt")
    benchmark = speed_benchmark(tmp_path)
    status, [result], err = run_info(tmp_path, capsys, spec, {"treatment": {"program": benchmark}})
    assert status == 0, err
    commands = stored_commands(tmp_path, "tokens_like")
    assert sorted(commands) == ["treatment_0", "treatment_1"]
    device = result["meta"]["device"]["identifier"]
    for index, argv in enumerate(commands[name] for name in sorted(commands)):
        given = dict(zip(argv[1::2], argv[2::2], strict=True))
        assert given["--device"] == device and given["--build"] == str(tmp_path)
        assert given["--o"] == f"{given['--tgt']}/out_{index}.txt"
        assert given["--tgt"] != given["--host"]
    first, second = (dict(zip(commands[n][1::2], commands[n][2::2], strict=True)) for n in sorted(commands))
    assert first["--tgt"] != second["--tgt"] and first["--host"] != second["--host"]  # fresh for every run


def test_faipeproot_is_refused_in_one_line_naming_the_token(tmp_path, capsys):
    spec = tokens_spec(tmp_path, "{program} --iter {iter} --script {FAIPEPROOT}/benchmarking/run.py")
    status, _, err = run_info(tmp_path, capsys, spec, {"treatment": {"program": speed_benchmark(tmp_path)}})
    assert status == 2
    [line] = err.strip().splitlines()
    assert "{FAIPEPROOT}: FAI-PEP's own checkout directory" in line and "--string_map" in line
    string_map = json.dumps({"FAIPEPROOT": str(tmp_path)})
    status, _, err = run_info(
        tmp_path, capsys, spec, {"treatment": {"program": speed_benchmark(tmp_path)}}, "--string_map", string_map
    )
    assert status == 0, err


def test_run_time_tokens_off_the_host_are_refused_with_the_reason():
    arm = Arm("treatment", "build/speed_benchmark")
    on_host = run_tokens(arm, "out/r0", "box", "host/r0", 3)
    assert on_host.defined == {
        "TGTDIR": "out/r0", "DEVICEHASH": "box", "INDEX": "3", "HOSTDIR": "host/r0", "BUILDDIR": "build"
    }  # fmt: skip
    off_host = run_tokens(arm, "/data/local/tmp/r0", "emulator-5554", None, 0)
    assert set(off_host.refused) == {"FAIPEPROOT", "HOSTDIR", "BUILDDIR"}
    assert "defined only on the host platform" in off_host.refused["HOSTDIR"]
    interpreter = run_tokens(Arm("treatment", "python3"), "out/r0", "box", "host/r0", 0)
    assert "'python3' names no directory" in interpreter.refused["BUILDDIR"]


def test_a_per_arm_string_map_overrides_the_global_one_for_that_arm(tmp_path, capsys):
    # FAI-PEP's FrameworkBase.runBenchmark passes info["string_map"] to _replaceStringMap, which deepMerges
    # it over --string_map; it reads the arm's map as JSON text, or takes an object as it is.
    command = "{program} --iter {iter} --round {INDEX} --backend {BACKEND} --threads {THREADS} --engine {engine}"
    spec = tokens_spec(tmp_path, command, repeat=1, engine="{BACKEND}-engine")
    benchmark = speed_benchmark(tmp_path)
    info = {
        "treatment": {"program": benchmark, "string_map": {"BACKEND": "mkl"}},
        "control": {"program": benchmark, "string_map": json.dumps({"BACKEND": "eigen"})},
    }
    args = ("--string_map", json.dumps({"BACKEND": "global", "THREADS": "4"}), "--min_rounds", "5", "--max_rounds", "5")
    status, [result], err = run_info(tmp_path, capsys, spec, info, *args)
    assert status == 0, err
    commands = stored_commands(tmp_path, "tokens_like")
    treatment = [argv[argv.index("--backend") :] for name, argv in commands.items() if name.endswith("_treatment")]
    control = [argv[argv.index("--backend") :] for name, argv in commands.items() if name.endswith("_control")]
    assert len(treatment) == len(control) == 5
    assert {tuple(argv) for argv in treatment} == {("--backend", "mkl", "--threads", "4", "--engine", "mkl-engine")}
    assert {tuple(argv) for argv in control} == {("--backend", "eigen", "--threads", "4", "--engine", "eigen-engine")}
    # In an A/B, FAI-PEP's {INDEX} (a repeat's number) is the round's number, the same for both arms.
    for name, argv in commands.items():
        assert argv[argv.index("--round") + 1] == name.removeprefix("round").split("_")[0]
    # The arms' maps travel in the typed job, to the lab and back, unchanged.
    job = Job(specs=(str(spec),), arms=parse_info(json.dumps(info)), string_map={"BACKEND": "global"})
    assert Job.from_json(job.to_json()) == job
    assert job.arms.control.string_map == {"BACKEND": "eigen"}


def test_a_per_arm_token_in_a_fetched_files_location_is_one_line(tmp_path):
    document = json.loads(SQUEEZE.read_text())
    document["model"]["files"]["predict"]["location"] = "{BACKEND}/predict_net.pb"
    spec = tmp_path / "per_arm_location.json"
    spec.write_text(json.dumps(document))
    with pytest.raises(UserError) as caught:
        load_benchmarks(spec, {"BACKEND": "models"}, per_arm={"BACKEND"})
    message = str(caught.value)
    assert "model.files.predict.location: {BACKEND} comes from --info's per-arm string_map" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("string_map", "fragment"),
    [
        ("{", "--info: treatment.string_map: expected JSON"),
        ({"BACKEND": 3}, "--info: treatment.string_map: expected a JSON object of strings"),
        ({"pep_extra_args": "--x"}, "--info: treatment.string_map: pep_extra_args: not supported"),
    ],
)
def test_a_per_arm_string_map_that_is_not_one_is_one_line(string_map, fragment):
    with pytest.raises(UserError) as caught:
        parse_info(json.dumps({"treatment": {"program": "/bin/a", "string_map": string_map}}))
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_a_preprocess_command_and_command_args_only_where_the_program_runs(tmp_path, capsys):
    def steps(document):
        test = document["tests"][0]
        test["preprocess"] = {"command": "{program} --check_input {files.predict}"}
        helper = f"{sys.executable} {DATA / 'stand_in_benchmark.py'} --check_input {{files.init}}"
        test["commands"] = [helper, *test["commands"]]

    path = mutated(tmp_path, SQUEEZE, steps)
    listing = path.parent / f"list_{tmp_path.name}.json"
    listing.write_text(json.dumps({"meta": {"command_args": "--backend mkl"}, "benchmarks": [path.name]}))
    try:
        status, results, err = run(tmp_path, capsys, listing, speed_benchmark(tmp_path))
    finally:
        path.unlink()
        listing.unlink()
    assert status == 0, err
    with ResultStore(tmp_path / "aipep.db") as store:
        [stored] = [r for r in store.find_runs(model="squeeze_like", include_logs=True) if r.meta["identifier"] == "0"]
    commands = [stored.logs[f"treatment_{index}.command"].split() for index in range(3)]
    assert commands[0][1:3] == ["--check_input", str(SQUEEZE.parent / "predict_net.pb")]
    assert commands[1][0] == sys.executable
    assert [command[-2:] == ["--backend", "mkl"] for command in commands] == [True, False, True]


def mutated(tmp_path, source, change):
    document = json.loads(source.read_text())
    change(document)
    path = source.parent / f"mutated_{tmp_path.name}.json"
    path.write_text(json.dumps(document))
    return path


def load_refusal(path: Path) -> str:
    """The message of the UserError loading a mutated spec raises, checked to be one line; the file goes either way."""
    try:
        with pytest.raises(UserError) as caught:
            load_benchmarks(path)
    finally:
        path.unlink()
    assert "\n" not in str(caught.value)
    return str(caught.value)


OUTPUT_FILE = {"filename": "out.txt", "location": "{TEMPDIR}/out.txt"}

REFUSALS = [
    ("model.converter", lambda d: d["model"].update(converter="identity"), "model.converter: FAI-PEP's output"),
    ("model.libraries", lambda d: d["model"].update(libraries={}), "model.libraries: shared libraries"),
    ("tests[].files", lambda d: d["tests"][0].update(files={}), "tests[0].files: per-test files"),
    ("platform_args", lambda d: d["tests"][0].update(platform_args={"non_blocking": True}), "tests[0].platform_args"),
    ("statistics", lambda d: d["tests"][0].update(statistics=["p101"]), "tests[0].statistics[0]"),
    ("commands and command", lambda d: d["tests"][0].update(command="{program}"), "expected one of 'commands'"),
    ("tests[].env", lambda d: d["tests"][0].update(env={"A": "1"}), "tests[0].env: environment variables"),
    (
        "preprocess.files",
        lambda d: d["tests"][0].update(preprocess={"command": "{program}", "files": {}}),
        "tests[0].preprocess.files: files of a step",
    ),
    ("model.app", lambda d: d["model"].update(app={"package": "p"}), "model.app: Android app benchmarks"),
    (
        "tests[].profiler",
        lambda d: d["tests"][0].update(profiler={"enabled": True}),
        "tests[0].profiler: FAI-PEP's profilers are not supported",
    ),
    (
        "output_files converter",
        lambda d: d["tests"][0].update(output_files={"out": {**OUTPUT_FILE, "converter": {"name": "json"}}}),
        "tests[0].output_files.out.converter: FAI-PEP's output-file converters",
    ),
    (
        "output_files upload",
        lambda d: d["tests"][0].update(output_files={"out": [{**OUTPUT_FILE, "upload": True}]}),
        "tests[0].output_files.out.upload: uploading output files",
    ),
    (
        "input_files list",
        lambda d: d["tests"][0].update(input_files={"images": [d["model"]["files"]["init"]] * 2}),
        "tests[0].input_files.images: expected one file object, got a list of 2",
    ),
]


@pytest.mark.parametrize(("field", "change", "fragment"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_each_refused_field_is_one_line_naming_it(tmp_path, field, change, fragment):
    refusal = load_refusal(mutated(tmp_path, SQUEEZE, change))
    assert fragment in refusal
    print(f"{field}: {refusal}")


def test_a_disabled_profiler_is_accepted_as_fai_pep_ignores_it(tmp_path):
    path = mutated(tmp_path, SQUEEZE, lambda d: d["tests"][0].update(profiler={"enabled": False, "types": ["cpu"]}))
    try:
        [spec] = load_benchmarks(path)
    finally:
        path.unlink()
    assert spec.tests[0].identifier == "0"


def test_a_models_framework_must_be_the_one_in_use_and_its_group_is_kept(tmp_path, capsys):
    benchmark = speed_benchmark(tmp_path)
    path = mutated(tmp_path, SQUEEZE, lambda d: d["model"].update(framework="tflite"))
    try:
        status, results, err = run(tmp_path, capsys, path, benchmark)
    finally:
        path.unlink()
    assert status == 2 and results == [] and err.count("\n") == 1
    assert f"{path.name}: model.framework: 'tflite' is not the framework in use (model.format 'caffe2')" in err
    path = mutated(tmp_path, SQUEEZE, lambda d: d["model"].update(framework="caffe2", group="mobile_cnns"))
    try:
        status, results, err = run(tmp_path, capsys, path, benchmark)
    finally:
        path.unlink()
    assert status == 0, err
    assert [result["meta"]["group"] for result in results] == ["mobile_cnns"] * 2


def test_a_commands_object_without_the_frameworks_entry_is_one_line(tmp_path, capsys):
    benchmark = speed_benchmark(tmp_path)
    status, _, err = run(tmp_path, capsys, PER_FRAMEWORK, benchmark, None, "--framework", "pytorch")
    assert status == 2
    assert err.count("\n") == 1 and "commands: no entry for framework 'pytorch'" in err


def test_an_unknown_format_names_the_specs_field(tmp_path, capsys):
    path = mutated(tmp_path, SQUEEZE, lambda d: d["model"].update(format="glow"))
    try:
        status, _, err = run(tmp_path, capsys, path, speed_benchmark(tmp_path))
    finally:
        path.unlink()
    assert status == 2 and err.count("\n") == 1
    assert f"{path.name}: model.format: unknown framework 'glow'" in err


def test_a_wrong_input_file_md5_names_the_tests_field(tmp_path, capsys):
    def wrong_md5(document):
        document["tests"][0]["input_files"]["images"]["md5"] = "0" * 32

    path = mutated(tmp_path, ACCURACY, wrong_md5)
    try:
        status, _, err = run(tmp_path, capsys, path, speed_benchmark(tmp_path))
    finally:
        path.unlink()
    assert status == 2 and err.count("\n") == 1
    assert f"{path.name}: tests[0].input_files.images.md5:" in err


def test_a_caffe2_test_with_several_input_shapes_is_one_test_per_shape(tmp_path, capsys):
    def shapes(document):
        document["tests"][0]["inputs"]["data"]["shapes"] = [[1, 3, 8, 8], [2, 3, 8, 8]]

    path = mutated(tmp_path, OLD_FORMAT, shapes)
    try:
        status, results, err = run(tmp_path, capsys, path, speed_benchmark(tmp_path))
    finally:
        path.unlink()
    assert status == 0, err
    assert [r["meta"]["identifier"] for r in results] == ["0", "1"]
    dims = [r["meta"]["command"][r["meta"]["command"].index("--input_dims") + 1] for r in results]
    assert dims == ["1,3,8,8", "2,3,8,8"]
