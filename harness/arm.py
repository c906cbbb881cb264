"""Running one arm of a benchmark (the job's Arm: a program at a commit) once as a process.

Both the single run and the interleaved A/B run are made of these: one fresh
process per arm per round, its output parsed into samples.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from aipep_core.errors import RunFailure, UserError
from aipep_core.job import Arm
from aipep_core.model_variants import QUALITY_METRIC
from aipep_core.result_record import FAILURE, RunResult
from aipep_core.run_constraints import RunConstraints
from aipep_core.spec import ModelSpec, TestSpec
from frameworks.base import CommandContext, Framework, TurnPipes
from frameworks.observer_lines import parse_observer_output
from frameworks.samples import MetricSamples, ParsedOutput
from harness.load_results import scenario_record
from harness.output_error import OUTPUT_FILE, read_outputs
from harness.resource_samples import resource_samples
from harness.run_tokens import HOST, RunTokens, run_tokens
from platforms.base import Platform, ProcessResult

# Tests whose processes write outputs the harness reads back.
OUTPUT_METRICS = ("error", QUALITY_METRIC)


def resolved_arm(arm: Arm, default_program: str | None) -> Arm:
    """The arm with its program decided: the job's, or else the framework's default one."""
    program = arm.program or default_program
    if not program:
        raise UserError(f"--info: {arm.name}.program: expected the program to benchmark, got nothing")
    return replace(arm, program=program)


@dataclass
class ArmProcess:
    """The samples one process of one arm reported, with the process facts.

    `problems` name what the output held that could not be read (the rest was kept);
    `command` is the first benchmark command (pre- and postprocess commands are in `processes`);
    `scenario` is LoadGen's verdict on the process when the test runs a load scenario.
    """

    arm: str
    samples: dict[str, MetricSamples]
    processes: list[ProcessResult]
    output_dir: str
    outputs: dict[str, np.ndarray] | None = None
    problems: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    scenario: dict | None = None

    @property
    def wall_seconds(self) -> float:
        return sum(p.wall_seconds for p in self.processes)

    @property
    def cpu_seconds(self) -> float | None:
        times = [p.cpu_seconds for p in self.processes]
        return None if any(t is None for t in times) else sum(times)


class ArmRunFailure(RunFailure):
    """A process of an arm crashed, hung or printed nothing we could read."""

    def __init__(self, message: str, processes: list[ProcessResult]):
        super().__init__(message)
        self.processes = processes


@dataclass
class ArmRunner:
    """Runs one arm of one test on a platform, once per call.

    `model` brings the spec's model-wide settings (its `command_args`, its fields as
    placeholders, its `preprocess`/`postprocess` steps); `input_files` are the device paths
    of the test's single-file input roles, for `{input_files.ROLE}`. `arm_files` are the model
    files of an arm that is a model variant (in place of `device_files`); `dataset_inputs` is
    the device path of the test's dataset samples, for `{dataset_inputs}`.
    `string_map` is the job's `--string_map`: an arm's own string map overrides it for the tokens
    the specs kept for the arms.
    """

    framework: Framework
    platform: Platform
    test: TestSpec
    device_files: dict[str, str]
    timeout: float | None = None
    model: ModelSpec | None = None
    input_files: dict[str, str] = field(default_factory=dict)
    arm_files: dict[str, dict[str, str]] = field(default_factory=dict)
    dataset_inputs: str | None = None
    string_map: dict[str, str] = field(default_factory=dict)
    _programs: dict[str, str] = field(default_factory=dict)
    _device_hash: str | None = None

    def device_program(self, arm: Arm) -> str:
        """Push a program that is a local file; leave interpreter names alone."""
        if arm.program not in self._programs:
            local = Path(arm.program)
            self._programs[arm.program] = self.platform.push(local) if local.is_file() else arm.program
        return self._programs[arm.program]

    def run_once(self, arm: Arm, label: str, index: int = 0, turns: TurnPipes | None = None) -> ArmProcess:
        """`index` counts the arm's processes in this run from 0 (a single run's repeats, an A/B's
        rounds): FAI-PEP's `{INDEX}`. `turns`: the benchmark takes turns with its partner arm's
        process (an alternating round)."""
        output_dir = self.platform.work_dir(label)
        output_file = f"{output_dir}/{OUTPUT_FILE}"
        context = replace(self._context(arm, output_dir, output_file, label, index), turns=turns)
        processes: list[ProcessResult] = []
        collected: dict[str, list[MetricSamples]] = {}
        problems: list[str] = []
        for step in self._steps("preprocess"):
            self._run_step(self.framework.compose_step(step, self.test, context), arm, processes, collected)
        commands = self.framework.compose(self.test, context)
        benchmarked: list[ProcessResult] = []
        scenario = None
        self._sleep_before_run()
        for argv in commands:
            result = self._run(argv, arm, processes, constraints=self.test.constraints)
            benchmarked.append(result)
            try:
                parsed = self.framework.parse(result.stdout_to_parse, result.stderr)
            except RunFailure as exc:
                raise ArmRunFailure(f"{arm.name} output: {exc}", processes) from None
            if isinstance(parsed, ParsedOutput):
                problems.extend(parsed.problems)
            scenario = scenario_record(result.stdout_to_parse) or scenario
            for samples in parsed:
                collected.setdefault(samples.key, []).append(samples)
        for step in self._steps("postprocess"):
            self._run_step(self.framework.compose_step(step, self.test, context), arm, processes, collected)
        if self.test.metric not in OUTPUT_METRICS and not collected:
            unreadable = f"; unreadable: {'; '.join(problems)}" if problems else ""
            raise ArmRunFailure(f"{arm.name} program printed no measurements{unreadable}", processes)
        for result in benchmarked:
            for samples in resource_samples(result):
                collected.setdefault(samples.key, []).append(samples)
        if self.test.metric in OUTPUT_METRICS:
            outputs = self._fetch_outputs(arm, output_file, label, processes)
            return ArmProcess(arm.name, _merge(collected), processes, output_dir, outputs, problems, commands[0])
        return ArmProcess(
            arm.name,
            _merge(collected),
            processes,
            output_dir,
            problems=problems,
            command=commands[0],
            scenario=scenario,
        )

    def _context(self, arm: Arm, output_dir: str, output_file: str, label: str, index: int) -> CommandContext:
        extra = {"output_file": output_file}
        extra.update({f"input_files.{role}": path for role, path in self.input_files.items()})
        if self.dataset_inputs is not None:
            extra["dataset_inputs"] = self.dataset_inputs
        extra.update(
            {
                f"output_files.{role}": f"{output_dir}/{files[0].filename}"
                for role, files in self.test.output_files.items()
                if len(files) == 1
            }
        )
        model = self.model
        tokens = self._run_tokens(arm, output_dir, label, index)
        return CommandContext(
            program=self.device_program(arm),
            files=self.arm_files.get(arm.name, self.device_files),
            output_dir=output_dir,
            extra=extra,
            model_fields={key: str(value) for key, value in model.scalar_fields().items()} if model else {},
            command_args=model.command_args if model else "",
            arm_options=arm.options,
            tokens={**self.string_map, **arm.string_map, **tokens.defined},
            refused_tokens=tokens.refused,
        )

    def _run_tokens(self, arm: Arm, output_dir: str, label: str, index: int) -> RunTokens:
        if self._device_hash is None:
            self._device_hash = self.platform.describe().identifier
        host_dir = self.platform.work_dir(f"{label}_host") if self.platform.name == HOST else None
        return run_tokens(arm, output_dir, self._device_hash, host_dir, index)

    def _steps(self, name: str) -> list[tuple[str, ...]]:
        """The model's step, then the test's (FAI-PEP runs both where both are given)."""
        steps = [getattr(self.model, name) if self.model else (), getattr(self.test, name)]
        return [step for step in steps if step]

    def _sleep_before_run(self) -> None:
        """`platform_args.sleep_before_run`: FAI-PEP's pause for the device to settle, once per arm's
        run of a test, after its preprocess and before its first benchmark command (FAI-PEP's Android
        platform prefixes that command with `sleep N &&` and then drops the setting, so the test's
        later commands start at once). It is spent outside the measured process: it costs time, not
        accuracy."""
        seconds = self.test.platform_args.get("sleep_before_run", 0)
        if seconds:
            time.sleep(float(seconds))

    def _run(
        self, argv: list[str], arm: Arm, processes: list[ProcessResult], constraints: RunConstraints | None = None
    ) -> ProcessResult:
        """Run one process of the arm; only the benchmark's own processes run under the test's constraints."""
        result = self.platform.run(
            argv, timeout=self.timeout, platform_args=self.test.platform_args, constraints=constraints
        )
        processes.append(result)
        if not result.ok:
            raise ArmRunFailure(f"{arm.name} program {result.failure_summary()}", processes)
        return result

    def _run_step(
        self,
        argvs: list[list[str]],
        arm: Arm,
        processes: list[ProcessResult],
        collected: dict[str, list[MetricSamples]],
    ) -> None:
        """A pre- or postprocess command: not timed; observer lines it prints (a postprocess that
        computes accuracy, say) are measurements like the benchmark's own."""
        for argv in argvs:
            result = self._run(argv, arm, processes)
            for samples in parse_observer_output(result.stdout_to_parse):
                collected.setdefault(samples.key, []).append(samples)

    def _fetch_outputs(self, arm: Arm, remote: str, label: str, processes: list[ProcessResult]):
        local = Path(tempfile.mkdtemp(prefix="aipep-outputs-")) / f"{label}_{OUTPUT_FILE}"
        try:
            self.platform.pull(remote, local)
            return read_outputs(local)
        except (OSError, RunFailure) as exc:
            raise ArmRunFailure(f"{arm.name} outputs: {exc}", processes) from None
        finally:
            shutil.rmtree(local.parent, ignore_errors=True)


def _merge(collected: dict[str, list[MetricSamples]]) -> dict[str, MetricSamples]:
    merged = {}
    for key, parts in collected.items():
        values = tuple(value for part in parts for value in part.values)
        merged[key] = replace(parts[0], values=values)
    return merged


def process_logs(prefix: str, processes: list[ProcessResult]) -> dict[str, str]:
    """Name each process's output for the result's logs."""
    logs = {}
    for index, process in enumerate(processes):
        suffix = f"_{index}" if len(processes) > 1 else ""
        logs[f"{prefix}{suffix}.command"] = " ".join(process.argv)
        logs[f"{prefix}{suffix}.stdout"] = process.stdout
        logs[f"{prefix}{suffix}.stderr"] = process.stderr
    return logs


def run_arms_once(runner: ArmRunner, arms: list[Arm], result: RunResult) -> dict[str, ArmProcess] | None:
    """One process of each arm, its logs kept in `result`; None, with `result` failed, when a program failed.

    Tests that compare outputs or scores rather than timings (error, accuracy) need one run per arm.
    """
    try:
        ran = {arm.name: runner.run_once(arm, arm.name) for arm in arms}
    except ArmRunFailure as failure:
        result.status, result.failure = FAILURE, str(failure)
        result.logs.update(process_logs("failed", failure.processes))
        return None
    for name, process in ran.items():
        result.logs.update(process_logs(name, process.processes))
    return ran
