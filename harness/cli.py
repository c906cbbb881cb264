"""`harness`: run every test of a spec on a device and hand each result to the reporters."""

from __future__ import annotations

import dataclasses
import sys
import threading
from pathlib import Path

from aipep_core.errors import DeviceError, RunFailure, UserError
from aipep_core.names import CONTROL, TREATMENT
from aipep_core.result_record import RunResult
from aipep_core.spec import BenchmarkSpec, TestSpec, load_benchmarks
from aipep_core.verdict import Verdict
from frameworks import get_framework
from harness.ab_run import run_ab
from harness.arm import Arm, ArmRunner
from harness.cli_args import EXIT_FAILED_RUN, EXIT_REGRESSION, EXIT_UNDELIVERED, build_parser, parse_info, split_list
from harness.device_failure import device_failure_result
from harness.error_run import run_error
from harness.model_cache import ModelCache
from harness.output_error import SINGLE_OUTPUT, read_outputs
from harness.program_versions import program_versions
from harness.reporters.undelivered import Undelivered
from harness.reporting import build_reporters
from harness.round_budget import OVERRIDABLE, check_round_budgets
from harness.run_meta import base_meta
from harness.single_run import run_single
from platforms import get_platform


def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv)
    except UserError as error:
        print(f"harness: error: {error}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130


def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    undelivered = Undelivered()
    results = execute(args, undelivered=undelivered)
    status = exit_status(results, fail_on_regression=args.fail_on_regression)
    return status or (EXIT_UNDELIVERED if undelivered else 0)


def execute(args, stop: threading.Event | None = None, undelivered: Undelivered | None = None) -> list[RunResult]:
    """Run every test of the spec(s) on every device; each result goes to the reporters.

    Used by the command line and, in process, by the repo driver; `stop`, when
    set, ends an A/B run cleanly between rounds; `undelivered` collects the results
    the results server refused for good.
    """
    specs = load_benchmarks(args.benchmark_file)
    info = parse_info(args.info)
    check_round_budgets(specs, {name: getattr(args, name) for name in OVERRIDABLE})
    reporters = build_reporters(args, undelivered)
    results: list[RunResult] = []
    try:
        for device in _devices(args):
            results.extend(run_device(device, specs, args, info, reporters, stop))
    finally:
        for reporter in reporters:
            reporter.close()
    return results


def run_device(device: str | None, specs: list[BenchmarkSpec], args, info: dict, reporters, stop) -> list[RunResult]:
    """Every test on one device; a device that cannot be reached, or is lost between runs, fails
    the tests it has not run yet (recorded like any result) and the next device goes on."""
    results: list[RunResult] = []
    platform = None
    try:
        platform = get_platform(args.platform, **_platform_options(args, device))
        platform.prepare()
        for spec in specs:
            run_spec(spec, args, info, platform, reporters, stop, results)
    except (DeviceError, RunFailure) as error:
        where = f"{args.platform} device {device}" if device else f"{args.platform} device"
        print(f"harness: {where}: {error}; its remaining tests are recorded as failed", file=sys.stderr)
        ran = {(result.meta.get("spec"), result.meta.get("identifier")) for result in results}
        for spec in specs:
            for test in spec.tests:
                if (str(spec.path), test.identifier) not in ran:
                    result = device_failure_result(spec, test, args, info, device, f"{where}: {error}")
                    for reporter in reporters:
                        reporter.report(result)
                    results.append(result)
    finally:
        if platform is not None:
            platform.close()
    return results


def run_spec(spec: BenchmarkSpec, args, info: dict, platform, reporters, stop, results: list[RunResult]) -> None:
    """Run every test of one spec, appending each result as soon as the reporters have it."""
    framework = get_framework(args.framework or spec.model.format)
    cache = ModelCache(
        Path(args.model_cache),
        Path(args.root_model_dir) if args.root_model_dir else None,
        max_download_bytes=int(args.max_download_mb * (1 << 20)),
    )
    local_files = cache.resolve_all(spec.model.files, spec.path.parent)
    device_files = {role: platform.push(path) for role, path in local_files.items()}
    treatment = Arm.from_info(TREATMENT, info.get(TREATMENT, {}), framework.default_program())
    control = Arm.from_info(CONTROL, info[CONTROL], framework.default_program()) if CONTROL in info else None
    description = platform.describe().as_dict()
    arms = [arm for arm in (treatment, control) if arm is not None]
    versions: dict[str, dict[str, str]] | None = None
    for test in spec.tests:
        test = _with_overrides(test, args)
        runner = ArmRunner(
            framework=framework,
            platform=platform,
            test=test,
            device_files=device_files,
            timeout=args.timeout,
            cooldown=spec.model.cooldown,
        )
        if versions is None:
            versions = {arm.name: program_versions(runner, arm) for arm in arms}
        meta = base_meta(spec, test, framework.name, description, treatment, args)
        meta["program_versions"] = versions[TREATMENT]
        if control is not None:
            meta["control_program_versions"] = versions[CONTROL]
        if test.metric == "error":
            result = run_error(runner, treatment, control, _golden_outputs(test, cache, spec), meta)
        elif control is None:
            result = run_single(runner, treatment, meta, repeat=spec.model.repeat)
        else:
            result = run_ab(runner, treatment, control, meta, reverse=args.run_type == "verify", stop=stop)
        if stop is not None and stop.is_set() and not result.ok:
            results.append(result)  # the caller drops it: reported, a stop would show as a failed test
            return
        for reporter in reporters:
            reporter.report(result)
        if not result.ok:
            print(f"harness: {spec.path.name} {test.identifier}: failed: {result.failure}", file=sys.stderr)
        results.append(result)


def exit_status(results: list[RunResult], *, fail_on_regression: bool) -> int:
    if any(not result.ok for result in results):
        return EXIT_FAILED_RUN
    if fail_on_regression and any(
        metric.comparison is not None and metric.comparison.verdict is Verdict.REGRESSION
        for result in results
        for metric in result.data.values()
    ):
        return EXIT_REGRESSION
    return 0


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


def _with_overrides(test: TestSpec, args) -> TestSpec:
    overrides = {
        name: getattr(args, name)
        for name in ("regression_threshold", "alpha", "min_rounds", "max_rounds", "round_statistic")
        if getattr(args, name) is not None
    }
    return dataclasses.replace(test, **overrides)


def _devices(args) -> list[str | None]:
    excluded = set(split_list(args.excluded_devices))
    devices = [device for device in split_list(args.devices) if device not in excluded]
    if args.devices and not devices:
        raise UserError("--devices: every device given is also in --excluded_devices")
    return devices or [None]


def _platform_options(args, device: str | None) -> dict:
    return {
        "device": device,
        "android_dir": args.android_dir,
        "ssh_identity": args.ssh_identity,
        "ssh_known_hosts": args.ssh_known_hosts,
        "ssh_trust_on_first_use": args.ssh_trust_on_first_use,
        "timeout": args.timeout,
    }
