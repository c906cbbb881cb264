"""Any program that prints observer lines; the microkernel sample is one."""

from frameworks.base import Framework
from frameworks.registry import register_framework


@register_framework
class GenericFramework(Framework):
    name = "generic"


@register_framework
class MicrokernelFramework(GenericFramework):
    """The sample C framework: a generic program built by its own build.sh."""

    name = "microkernel"
