"""The harness's command line, FAI-PEP's flags first, and the job it asks for.

The flags are parsed into a Job here and nowhere else: the rest of the harness, and the
repo driver, see only the job. The platform flags come from the platforms' declarations.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from aipep_core.endpoint_target import ARM_OPTION
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
    RunType,
)
from aipep_core.model_variants import parse_optimizers
from aipep_core.names import CONTROL, TREATMENT
from aipep_core.spec import DEFAULT_ROUND_STATISTIC, ROUND_DESIGNS, STOP_RULES, validate_arm_target
from aipep_core.user_dirs import cache_dir, data_dir
from harness.downloads import DEFAULT_MAX_BYTES
from harness.reporters.results_server import ACCESS_TOKEN_ENV
from harness.stats.summary import ROUND_STATISTICS
from platforms.option_flags import add_option_flags, given_options

EXIT_FAILED_RUN = 1
EXIT_USER_ERROR = UserError.exit_status
EXIT_REGRESSION = 3
EXIT_UNDELIVERED = 4

# What each exit status means, for --help: scripts and CI branch on these, so they are part of the interface.
EXIT_STATUSES = (
    (0, "success"),
    (EXIT_FAILED_RUN, "a benchmark failed (its result is still recorded, with logs)"),
    (EXIT_USER_ERROR, "a mistake in the input: one line names the file, field or flag and what was expected"),
    (EXIT_REGRESSION, "a regression, with --fail_on_regression"),
    (
        EXIT_UNDELIVERED,
        "a result did not reach every destination: the results server refused the token, rejected or quarantined "
        "a result, or a reporter could not write; one line each on stderr (only when the status would otherwise be 0)",
    ),
)


class _Parser(argparse.ArgumentParser):
    """Turns argparse's usage errors into our one-line UserError."""

    def error(self, message: str):
        raise UserError(f"command line: {message}")


def exit_status_help() -> str:
    return "exit status:\n" + "\n".join(f"  {status}  {meaning}" for status, meaning in EXIT_STATUSES)


def build_parser(
    prog: str = "harness",
    description: str = "Run a benchmark spec, alone or as an interleaved A/B comparison.",
    epilog: str | None = None,
    flags_title: str | None = None,
) -> argparse.ArgumentParser:
    """The harness's parser; aipep-bench builds its help from it under its own name and epilog.

    Abbreviations are off: `--max_round 8` silently meaning --max_rounds hides typos,
    and a flag added later could turn a working abbreviation ambiguous.
    """
    parser = _Parser(
        prog=prog,
        description=description,
        epilog=exit_status_help() if epilog is None else epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    flags = parser.add_argument_group(flags_title) if flags_title else parser
    flags.add_argument("-b", "--benchmark_file", required=True, help="benchmark spec JSON, or a list of specs")
    flags.add_argument("--framework", help="framework plug-in (default: the spec's model.format)")
    flags.add_argument("-p", "--platform", default="host", help="platform plug-in: host, ssh, android")
    flags.add_argument("-d", "--devices", help="comma list of devices: serials, host:port or user@host:port")
    flags.add_argument("--excluded_devices", default="", help="comma list of devices to leave out")
    flags.add_argument(
        "--info",
        default="{}",
        help='JSON: {"treatment": {"program", "commit", "commit_time", "optimizers", "model"}, "control": {...}}; '
        "a control makes an A/B run; an arm's optimizers (or model file) make it a model variant",
    )
    flags.add_argument("--model_cache", default=str(cache_dir() / "models"), help="where downloaded models are kept")
    flags.add_argument("--root_model_dir", help="directory that //relative model locations are under")
    flags.add_argument(
        "--string_map",
        help='JSON object {"NAME": "value"}: {NAME} in the specs becomes the value (FAI-PEP\'s flag; e.g. {MODEL_DIR})',
    )
    flags.add_argument(
        "--max_download_mb",
        type=float,
        default=DEFAULT_MAX_BYTES / (1 << 20),
        help="largest model file to download, in MiB (default: %(default)g); a bigger one is refused",
    )
    flags.add_argument("--local_reporter", metavar="DIR", help="write results into a directory hierarchy")
    flags.add_argument("--simple_local_reporter", metavar="DIR", help="write results as flat files")
    flags.add_argument(
        "--screen_reporter",
        action="store_true",
        help="print a table per result; the default when none of --simple_screen_reporter, --local_reporter, "
        "--simple_local_reporter is given",
    )
    flags.add_argument("--simple_screen_reporter", action="store_true", help="print each result as one JSON line")
    flags.add_argument("--report", metavar="DIR", help="write each result's report (one offline HTML file) into DIR")
    flags.add_argument(
        "--remote_reporter",
        metavar="URL",
        help="results server to POST every result to; what it cannot take now waits in an outbox and goes first "
        "on the next run; exit status 4 when it refuses the token, rejects a result or one is quarantined",
    )
    flags.add_argument(
        "--remote_access_token",
        metavar="TOKEN",
        help=f"access token for --remote_reporter (default: ${ACCESS_TOKEN_ENV}, which keeps it out of shell history)",
    )
    flags.add_argument(
        "--remote_outbox",
        metavar="DIR",
        help=f"where results wait for --remote_reporter (default: a folder per server under {data_dir() / 'outbox'})",
    )
    flags.add_argument("--db", default=str(data_dir() / "aipep.db"), help="SQLite store (default: %(default)s)")
    flags.add_argument("--no_db", action="store_true", help="do not store results in SQLite")
    flags.add_argument("--timeout", type=float, default=600.0, help="seconds one benchmark process may run")
    flags.add_argument("--user_identifier", help="a label of yours, kept in every result's meta")
    flags.add_argument("--run_type", default="benchmark", choices=["benchmark", "verify"], help="kind of run")
    flags.add_argument("--fail_on_regression", action="store_true", help="exit with status 3 if anything regressed")
    flags.add_argument("--regression_threshold", type=float, help="percent; overrides every test's threshold")
    flags.add_argument(
        "--min_abs_change_us",
        type=float,
        help="an operator changed by fewer microseconds is below_floor, not a regression; overrides every test's",
    )
    flags.add_argument("--alpha", type=float, help="significance level; overrides every test's alpha")
    flags.add_argument("--min_rounds", type=int, help="overrides every test's min_rounds")
    flags.add_argument("--max_rounds", type=int, help="overrides every test's max_rounds")
    flags.add_argument(
        "--round_statistic",
        choices=ROUND_STATISTICS,
        help=f"one process's iterations reduce to this per round (default {DEFAULT_ROUND_STATISTIC}); overrides specs",
    )
    flags.add_argument(
        "--round_design",
        choices=ROUND_DESIGNS,
        help="sequential: the arms of a round one after the other; duet: both at once on disjoint CPU sets, "
        "swapped every round; alternating: both loaded at once, then taking turns one timed iteration each "
        "(default: each test's round_design, else sequential); overrides specs",
    )
    flags.add_argument(
        "--stop_when",
        choices=STOP_RULES,
        help="net: a run may stop once NET has its verdict and the operators have had the rounds to show a "
        "regression; every_metric: only once every operator has one too (default: each test's stop_when, "
        "else every_metric); overrides specs",
    )
    add_option_flags(parser.add_argument_group("platform options (each for the platforms named)"))
    return parser


def parse_job(argv: list[str] | None = None) -> Job:
    """The job the harness's flags ask for; every mistake in them is a one-line UserError."""
    return job_from_flags(build_parser().parse_args(argv))


def job_from_flags(flags: argparse.Namespace) -> Job:
    """The job of parsed harness flags; the Namespace goes no further than this."""
    other_output_chosen = flags.screen_reporter or flags.simple_screen_reporter or flags.local_reporter
    remote = None
    if flags.remote_reporter:
        remote = RemoteReporter(flags.remote_reporter, outbox=flags.remote_outbox, token=flags.remote_access_token)
    return Job(
        specs=(flags.benchmark_file,),
        arms=parse_info(flags.info),
        framework=flags.framework,
        platform=PlatformSelection(
            name=flags.platform,
            devices=tuple(split_list(flags.devices)),
            excluded_devices=tuple(split_list(flags.excluded_devices)),
            options=given_options(vars(flags)),
        ),
        settings=RunSettings(
            regression_threshold=flags.regression_threshold,
            min_abs_change_us=flags.min_abs_change_us,
            alpha=flags.alpha,
            min_rounds=flags.min_rounds,
            max_rounds=flags.max_rounds,
            round_statistic=flags.round_statistic,
            round_design=flags.round_design,
            stop_when=flags.stop_when,
            timeout=flags.timeout,
            run_type=RunType(flags.run_type),
        ),
        model_cache=ModelCacheOptions(flags.model_cache, flags.root_model_dir, flags.max_download_mb),
        reporters=Reporters(
            screen=bool(flags.screen_reporter or not (other_output_chosen or flags.simple_local_reporter)),
            simple_screen=flags.simple_screen_reporter,
            local_dir=flags.local_reporter,
            simple_local_dir=flags.simple_local_reporter,
            report_dir=flags.report,
            db=None if flags.no_db else flags.db,
            remote=remote,
        ),
        labels=Labels(user_identifier=flags.user_identifier),
        fail_on_regression=flags.fail_on_regression,
        string_map=parse_string_map(flags.string_map),
    )


def parse_string_map(text: str | None) -> dict[str, str]:
    """`--string_map`'s JSON: token names to the strings FAI-PEP puts in their place."""
    if text is None:
        return {}
    try:
        string_map = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"--string_map: expected JSON, {exc.msg} at column {exc.colno}") from None
    return checked_string_map(string_map, "--string_map", text)


def checked_string_map(string_map: Any, where: str, shown: Any) -> dict[str, str]:
    if not isinstance(string_map, dict) or not all(isinstance(value, str) for value in string_map.values()):
        expected = 'a JSON object of strings such as {"MODEL_DIR": "models"}'
        raise UserError(f"{where}: expected {expected}, got {shown!r:.80}")
    if "pep_extra_args" in string_map:
        raise UserError(f"{where}: pep_extra_args: not supported; give extra arguments as the model's command_args")
    return string_map


def parse_info(text: str) -> Arms:
    """`--info`'s JSON as the job's arms, parsed once here."""
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"--info: expected JSON, {exc.msg} at column {exc.colno}") from None
    if not isinstance(info, dict):
        raise UserError("--info: expected a JSON object with 'treatment' (and optionally 'control')")
    unknown = set(info) - {TREATMENT, CONTROL}
    if unknown:
        raise UserError(f"--info: unknown key {sorted(unknown)[0]!r}, expected 'treatment' and 'control'")
    treatment = _info_arm(TREATMENT, info.get(TREATMENT, {}))
    return Arms(treatment, _info_arm(CONTROL, info[CONTROL]) if CONTROL in info else None)


# FAI-PEP `--info` keys aipep does not honour: refused by name, never dropped.
_REFUSED_INFO_KEYS = {
    "shared_libs": "shared libraries pushed beside the program are not supported",
}


def _info_arm(name: str, info: Any) -> Arm:
    if not isinstance(info, dict):
        raise UserError(f"--info: {name}: expected an object with 'program', 'commit', 'commit_time'")
    for key, reason in _REFUSED_INFO_KEYS.items():
        if key in info:
            raise UserError(f"--info: {name}.{key}: {reason}")
    program = _info_program(name, info)
    commit_time = info.get("commit_time", 0)
    if not isinstance(commit_time, int) or isinstance(commit_time, bool):
        raise UserError(f"--info: {name}.commit_time: expected an integer (seconds since 1970), got {commit_time!r}")
    options = _variant(name, info)
    if ARM_OPTION in info:
        # The arm's own endpoint (two servers are two arms), over the test's `target`.
        options[ARM_OPTION] = validate_arm_target(info[ARM_OPTION], f"--info: {name}.{ARM_OPTION}")
    return Arm(
        name,
        str(program) if program else None,
        str(info.get("commit", "unknown")),
        commit_time,
        options,
        string_map=_info_string_map(name, info.get("string_map")),
    )


def _info_string_map(name: str, value: Any) -> dict[str, str]:
    """An arm's own string map: FAI-PEP's harness reads it as JSON text (json.loads) and, when that
    fails, takes an object as it is, so both forms are read."""
    if value is None:
        return {}
    where = f"--info: {name}.string_map"
    string_map = value
    if isinstance(value, str):
        try:
            string_map = json.loads(value)
        except json.JSONDecodeError as exc:
            raise UserError(f"{where}: expected JSON, {exc.msg} at column {exc.colno}") from None
    return checked_string_map(string_map, where, value)


def _variant(name: str, info: dict[str, Any]) -> dict[str, Any]:
    """An arm's own model variant: its `optimizers` (replacing the test's) and/or its own `model` file."""
    variant: dict[str, Any] = {}
    if "optimizers" in info:
        optimizers = parse_optimizers(info["optimizers"], f"--info: {name}.optimizers")
        variant["optimizers"] = [optimizer.to_json() for optimizer in optimizers]
    if "model" in info:
        model = info["model"]
        if not isinstance(model, str) or not model:
            raise UserError(f"--info: {name}.model: expected the path of a model file, got {model!r:.80}")
        variant["model"] = model
    return variant


def _info_program(name: str, info: dict[str, Any]) -> Any:
    """The arm's program: the flat `program` key, or FAI-PEP's repo-driver form
    `"programs": {"program": {"location": ...}}`; giving both is ambiguous."""
    programs = info.get("programs")
    if programs is None:
        return info.get("program")
    if isinstance(programs, dict) and set(programs) - {"program"}:
        other = sorted(set(programs) - {"program"})[0]
        raise UserError(f"--info: {name}.programs.{other}: not supported; expected only 'program'")
    location = programs.get("program", {}).get("location") if isinstance(programs, dict) else None
    if not isinstance(location, str) or not location:
        raise UserError(f'--info: {name}.programs: expected {{"program": {{"location": PATH}}}}, got {programs!r:.80}')
    if info.get("program") not in (None, location):
        raise UserError(f"--info: {name}: 'program' and 'programs.program.location' name different programs")
    return location


def split_list(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]
