"""Any program that prints observer lines; the microkernel sample is one, and so is FAI-PEP's
pytorch benchmark binary, whose specs name their format rather than "generic"."""

from frameworks.base import Framework
from frameworks.registry import register_framework


@register_framework
class GenericFramework(Framework):
    name = "generic"


@register_framework
class MicrokernelFramework(GenericFramework):
    """The sample C framework: a generic program built by its own build.sh. Its program takes turns
    (--turn_fifos) when a test runs it with the framework's own command, so C A/Bs can run
    alternating rounds; a test's own `commands` may name a program that cannot."""

    name = "microkernel"
    takes_turns = True


@register_framework
class PyTorchFramework(GenericFramework):
    """FAI-PEP's `format: pytorch`: its speed benchmark prints PyTorchObserver lines."""

    name = "pytorch"
