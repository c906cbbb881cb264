"""The shipped microkernel specs the tests run, named once: the C sample in sequential rounds, and
the same test taking turns in alternating rounds under the framework's own command."""

from pathlib import Path

MICROKERNEL_SPEC = (
    Path(__file__).resolve().parent.parent / "specifications/models/microkernel/microkernel/microkernel.json"
)
ALTERNATING_SPEC = MICROKERNEL_SPEC.with_name("microkernel_alternating.json")
