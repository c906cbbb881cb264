"""FAI-PEP's run-time tokens: `{NAME}`s its harness defines for each run of a benchmark, not the user.

FAI-PEP (FrameworkBase._replaceStringMap) sets `TGTDIR`, `HOSTDIR`, `FAIPEPROOT`,
`DEVICEHASH` and `BUILDDIR` for every run and replaces them everywhere in the benchmark;
its benchmark driver numbers a model's repeated runs in the test's `INDEX` field. Specs
written for FAI-PEP use them in commands and fields, so aipep gives each the value of its
own equivalent, and a token it has no equivalent for is refused by name with the reason,
never left in a command as literal text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from aipep_core.job import Arm

HOST = "host"

FAIPEPROOT_REFUSAL = (
    "FAI-PEP's own checkout directory, where its scripts live; aipep has no FAI-PEP checkout: "
    'give the directory with --string_map \'{"FAIPEPROOT": "..."}\''
)
HOST_ONLY_REFUSAL = (
    "a directory on the host, where FAI-PEP runs pre- and postprocess commands; aipep runs every "
    "command on the device, so it is defined only on the host platform"
)


@dataclass(frozen=True)
class RunTokens:
    defined: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


def run_tokens(arm: Arm, output_dir: str, device_hash: str, host_dir: str | None, index: int) -> RunTokens:
    """The run-time tokens of one process of `arm`.

    `output_dir` is the run's fresh directory on the device (FAI-PEP's TGTDIR, the platform's
    output directory); `host_dir` a fresh directory on the host for this run (HOSTDIR), None
    when the device is not the host; `device_hash` the device's identifier (DEVICEHASH, the
    platform's hash); `index` the process's number in the run (INDEX).
    """
    defined = {"TGTDIR": output_dir, "DEVICEHASH": device_hash, "INDEX": str(index)}
    refused = {"FAIPEPROOT": FAIPEPROOT_REFUSAL}
    if host_dir is None:
        refused["HOSTDIR"] = HOST_ONLY_REFUSAL
        refused["BUILDDIR"] = HOST_ONLY_REFUSAL
    else:
        defined["HOSTDIR"] = host_dir
        build_dir = os.path.dirname(arm.program or "")
        if build_dir:
            defined["BUILDDIR"] = build_dir
        else:
            refused["BUILDDIR"] = (
                f"the directory of the arm's program, as FAI-PEP's --info gives it; {arm.name}'s program "
                f"{arm.program!r} names no directory"
            )
    return RunTokens(defined, refused)
