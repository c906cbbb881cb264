"""Fixtures shared by the suite: real builds of the sample C framework."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MICROKERNEL_SOURCE = REPO / "examples" / "microkernel"
MICROKERNEL_BUILD = REPO / "specifications" / "frameworks" / "microkernel" / "host" / "build.sh"

# A shell without job control starts its background commands with Ctrl-C ignored, and an
# ignored signal stays ignored across exec: the programs that tests interrupt with SIGINT
# would then never see it. A handled signal is reset to its default at exec, so handling it
# here gives every child the Ctrl-C a user's terminal would deliver, however the suite started.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def build_microkernel(tmp_path_factory):
    """Build the microkernel with extra CFLAGS (e.g. -DCONV_UNITS=130), once per flag set."""
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc) on this machine")
    built: dict[str, Path] = {}

    def build(cflags: str = "") -> Path:
        if cflags not in built:
            destination = tmp_path_factory.mktemp("microkernel") / "microkernel"
            subprocess.run(
                ["sh", str(MICROKERNEL_BUILD), str(MICROKERNEL_SOURCE), str(destination)],
                check=True,
                env={**os.environ, "CFLAGS": cflags},
                capture_output=True,
            )
            built[cflags] = destination
        return built[cflags]

    return build
