"""Running a job: every test of its specs on every selected device, each result to the reporters.

This is the harness's one entry for every caller (the command line, aipep-bench, the repo
driver, and the device lab to come): a Job in, typed results out. A stop asked for through
`stop` ends the job between rounds with RunStopped; what was being run is dropped, so a
stop never shows as a failed test.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from aipep_core.errors import DeviceError, RunFailure, UserError
from aipep_core.job import Job, RunStopped, RunType
from aipep_core.result_record import RunResult
from aipep_core.spec import ROUND_DESIGNS, STOP_RULES, BenchmarkSpec, TestSpec, load_benchmarks
from aipep_core.user_dirs import cache_dir
from frameworks import get_framework
from harness.ab_run import run_ab
from harness.accuracy_run import run_accuracy
from harness.arm import ArmRunner, resolved_arm
from harness.device_failure import device_failure_result
from harness.downloads import DEFAULT_MAX_BYTES
from harness.endpoint_targets import check_endpoint_targets
from harness.error_run import run_error
from harness.model_cache import ModelCache
from harness.output_error import SINGLE_OUTPUT, read_outputs
from harness.program_versions import program_versions
from harness.reporters.base import Reporter
from harness.reporters.undelivered import Undelivered
from harness.reporting import build_reporters
from harness.round_budget import check_round_budgets
from harness.run_meta import build_meta
from harness.single_run import run_single
from harness.stats.summary import ROUND_STATISTICS, requested_statistics
from harness.variants.arm_models import ArmModels, arm_models, check_variants
from harness.variants.quality_run import run_quality
from platforms import get_platform
from platforms.registry import check_platform_options

_OVERRIDES = (
    "regression_threshold",
    "min_abs_change_us",
    "alpha",
    "min_rounds",
    "max_rounds",
    "round_statistic",
    "round_design",
    "stop_when",
)
# Settings that name one of a fixed set; a job read from JSON (the lab's) has passed no argparse `choices`.
_CHOICES = {"round_statistic": ROUND_STATISTICS, "round_design": ROUND_DESIGNS, "stop_when": STOP_RULES}

# FAI-PEP's `metric: power` reads a power monitor wired to the device's battery.
POWER_REFUSAL = (
    "metric 'power' needs a power monitor (such as a Monsoon) wired in place of the device's battery, "
    "or for method 'software' FAI-PEP's battery-counter reader; aipep drives neither, so this test is not run"
)


@dataclass
class JobOutcome:
    """Every result the job recorded, and the ones that did not reach every destination."""

    results: list[RunResult]
    undelivered: Undelivered


@dataclass(frozen=True)
class _Context:
    """What every test of a job shares while one device runs it."""

    job: Job
    platform_options: dict
    reporters: list[Reporter]
    stop: threading.Event | None
    progress: TextIO


def run_job(job: Job, stop: threading.Event | None = None, progress: TextIO | None = None) -> JobOutcome:
    """Run the job; everything that can be checked before a device is opened is checked first.

    The A/B runs' round-by-round lines go to `progress` (standard error when None)."""
    specs = [
        spec
        for path in job.specs
        for spec in load_benchmarks(path, job.string_map, per_arm=job.arms.string_map_names())
    ]
    check_round_budgets(specs, job.settings)
    for spec in specs:
        check_endpoint_targets(_framework(job, spec), spec, job.arms.all())
    _check_model_frameworks(specs, job)
    for name, choices in _CHOICES.items():
        value = getattr(job.settings, name)
        if value is not None and value not in choices:
            raise UserError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    for spec in specs:
        for test in spec.tests:
            check_variants(test, list(job.arms.all()))
    floor = job.settings.min_abs_change_us
    if floor is not None and not (math.isfinite(floor) and floor >= 0):
        raise UserError(f"--min_abs_change_us: expected microseconds >= 0 (0: no floor), got {floor:g}")
    platform_options = check_platform_options(job.platform.name, job.platform.options)
    devices = _devices(job)
    undelivered = Undelivered()
    reporters = build_reporters(job.reporters, undelivered)
    context = _Context(job, platform_options, reporters, stop, sys.stderr if progress is None else progress)
    results: list[RunResult] = []
    try:
        for device_index, device in enumerate(devices):
            results.extend(_run_device(device, device_index, specs, context))
    finally:
        for reporter in reporters:
            reporter.close()
    return JobOutcome(results, undelivered)


def _run_device(
    device: str | None, device_index: int, specs: list[BenchmarkSpec], context: _Context
) -> list[RunResult]:
    """Every test on one device; a device that cannot be reached, or is lost between runs, fails
    the tests it has not run yet (recorded like any result) and the next device goes on."""
    job = context.job
    results: list[RunResult] = []
    platform = None
    try:
        platform = get_platform(
            job.platform.name, device=device, timeout=job.settings.timeout, **context.platform_options
        )
        platform.prepare()
        for spec_index, spec in enumerate(specs):
            _run_spec(spec, (spec_index, device_index), platform, context, results)
    except (DeviceError, RunFailure) as error:
        where = f"{job.platform.name} device {device}" if device else f"{job.platform.name} device"
        print(f"harness: {where}: {error}; its remaining tests are recorded as failed", file=sys.stderr)
        ran = {(result.meta.get("spec"), result.meta.get("identifier")) for result in results}
        for spec_index, spec in enumerate(specs):
            for test in spec.tests:
                if (str(spec.path), test.identifier) not in ran:
                    result = device_failure_result(spec, test, job, device, f"{where}: {error}")
                    result = _identified(result, job, (spec_index, device_index), test.identifier)
                    for reporter in context.reporters:
                        reporter.report(result)
                    results.append(result)
    finally:
        if platform is not None:
            platform.close()
    return results


def _run_spec(
    spec: BenchmarkSpec, position: tuple[int, int], platform, context: _Context, results: list[RunResult]
) -> None:
    """Run every test of one spec, appending each result as soon as the reporters have it.

    `position` is the spec's index among the job's specs and the device's among its devices."""
    job, stop = context.job, context.stop
    framework = _framework(job, spec)
    cache = _model_cache(job)
    local_files = cache.resolve_all(spec.model.files, spec.path.parent)
    device_files = {role: platform.push(path) for role, path in local_files.items()}
    # What a comparison of models plots latency against: the bytes of every file the model is made of.
    model_size_bytes = sum(Path(path).stat().st_size for path in local_files.values()) if local_files else None
    spec_timeout = spec.model.timeout if spec.model.timeout is not None else job.settings.timeout
    arms = [resolved_arm(arm, framework.default_program()) for arm in job.arms.all()]
    treatment, control = arms[0], (arms[1] if len(arms) > 1 else None)
    description = platform.describe().as_dict()
    versions: dict[str, dict[str, str]] | None = None
    for test in spec.tests:
        test = _with_overrides(test, job)
        if test.metric == "power":
            _record(power_refusal_result(spec, test, job, description), context, results)
            continue
        if results and spec.model.cooldown:
            # FAI-PEP's cooldown: a pause between tests for the device to cool (see ab_run).
            time.sleep(spec.model.cooldown)
        if test.dataset is not None and not framework.runs_quality_pass:
            raise UserError(f"{test.where}.dataset: framework {framework.name} cannot run a dataset; onnxruntime can")
        models = arm_models(test, arms, local_files, device_files, cache.cache_dir, platform)
        runner = ArmRunner(
            framework=framework,
            platform=platform,
            test=test,
            device_files=device_files,
            timeout=float(test.option("timeout", spec_timeout)),
            model=spec.model,
            input_files=_input_files(test, cache, spec, platform),
            arm_files=models.arm_files,
            dataset_inputs=models.dataset_inputs,
            string_map=job.string_map,
        )
        if versions is None:
            versions = {arm.name: program_versions(runner, arm) for arm in arms}
        meta = build_meta(job, spec, test, framework.name, description, arms, versions, model_size_bytes)
        if models.described:
            meta["variants"] = models.described
        if test.metric == "error":
            result = run_error(runner, treatment, control, _golden_outputs(test, cache, spec), meta)
        elif test.metric == "accuracy":
            result = run_accuracy(runner, treatment, control, meta)
        elif control is None:
            result = run_single(runner, treatment, meta, repeat=spec.model.repeat)
        else:
            reverse = job.settings.run_type == RunType.VERIFY
            result = run_ab(runner, treatment, control, meta, reverse=reverse, progress=context.progress, stop=stop)
        if framework.runs_quality_pass:
            _judge_quality(runner, test, arms, models, result)
        if stop is not None and stop.is_set() and not result.ok:
            # A Ctrl-C reaches the benchmark process too: its failure is the stop, not a result.
            raise RunStopped(f"{spec.path.name} {test.identifier}: stopped on request")
        result = _identified(result, job, position, test.identifier)
        _add_requested_statistics(result, test)
        _record(result, context, results)
        if not result.ok:
            print(f"harness: {spec.path.name} {test.identifier}: failed: {result.failure}", file=sys.stderr)


def _framework(job: Job, spec: BenchmarkSpec):
    return get_framework(
        job.framework or spec.model.format, "--framework" if job.framework else f"{spec.path.name}: model.format"
    )


def _check_model_frameworks(specs: list[BenchmarkSpec], job: Job) -> None:
    """A model's `framework` must name the framework that runs it, as FAI-PEP's harness asserts."""
    for spec in specs:
        named, framework = spec.model.raw.get("framework"), job.framework or spec.model.format
        if named is not None and named != framework:
            where = "--framework" if job.framework else "model.format"
            raise UserError(
                f"{spec.path.name}: model.framework: {named!r} is not the framework in use ({where} {framework!r})"
            )


def _judge_quality(runner: ArmRunner, test: TestSpec, arms, models: ArmModels, result: RunResult) -> None:
    """A timed test whose arms are model variants, or that names a dataset, is judged on its outputs too."""
    if test.metric != "delay" or not result.ok:
        return
    if models.labelled is not None or (len(arms) > 1 and models.variants_differ):
        run_quality(runner, arms, models.labelled, result)


def _record(result: RunResult, context: _Context, results: list[RunResult]) -> None:
    for reporter in context.reporters:
        reporter.report(result)
    results.append(result)


def power_refusal_result(spec: BenchmarkSpec, test: TestSpec, job: Job, device: dict) -> RunResult:
    """A power test is a recorded failure with one line, not a skip: nothing asked for goes
    missing without a trace, and the spec's other tests still run."""
    result = device_failure_result(spec, test, job, device.get("identifier"), f"{test.where}: {POWER_REFUSAL}")
    print(f"harness: {spec.path.name} {test.identifier}: refused: {POWER_REFUSAL}", file=sys.stderr)
    return result


def _add_requested_statistics(result: RunResult, test: TestSpec) -> None:
    """The spec's `statistics` (FAI-PEP's names, any pN among them) join each metric's summaries."""
    if not test.statistics:
        return
    for metric in result.data.values():
        if metric.values:
            metric.summary.update(requested_statistics(metric.values, test.statistics))
        if metric.control_values:
            metric.control_summary.update(requested_statistics(metric.control_values, test.statistics))


def _input_files(test: TestSpec, cache: ModelCache, spec: BenchmarkSpec, platform) -> dict[str, str]:
    """Device paths of the test's input files (one per role, checked when the spec loads), for
    `{input_files.ROLE}`."""
    group = f"tests[{test.index}].input_files"
    return {
        role: platform.push(cache.resolve(file, spec.path.parent, spec.path.name, group))
        for role, (file,) in test.input_files.items()
    }


def _identified(result: RunResult, job: Job, position: tuple[int, int], identifier: str) -> RunResult:
    """The result under the id its job gives it, when the job names itself (a rerun keeps the id)."""
    spec_index, device_index = position
    result_id = job.result_id(spec_index, identifier, device_index)
    return result if result_id is None else dataclasses.replace(result, id=result_id)


def _model_cache(job: Job) -> ModelCache:
    options = job.model_cache
    directory = cache_dir() / "models" if options.directory is None else Path(options.directory)
    max_mb = options.max_download_mb
    return ModelCache(
        directory,
        Path(options.root_model_dir) if options.root_model_dir else None,
        max_download_bytes=DEFAULT_MAX_BYTES if max_mb is None else int(max_mb * (1 << 20)),
    )


def _golden_outputs(test: TestSpec, cache: ModelCache, spec: BenchmarkSpec):
    """The spec's golden outputs, one file per output name (the first of each list)."""
    if not test.output_files:
        return None
    golden = {}
    for name, files in test.output_files.items():
        if not files:
            continue
        outputs = read_outputs(cache.resolve(files[0], spec.path.parent))
        golden.update({name: outputs[SINGLE_OUTPUT]} if set(outputs) == {SINGLE_OUTPUT} else outputs)
    return golden


def _with_overrides(test: TestSpec, job: Job) -> TestSpec:
    overrides = {name: getattr(job.settings, name) for name in _OVERRIDES if getattr(job.settings, name) is not None}
    return dataclasses.replace(test, **overrides)


def _devices(job: Job) -> list[str | None]:
    excluded = set(job.platform.excluded_devices)
    devices = [device for device in job.platform.devices if device not in excluded]
    if job.platform.devices and not devices:
        raise UserError("--devices: every device given is also in --excluded_devices")
    return devices or [None]
