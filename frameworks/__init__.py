"""Frameworks: how to compose a benchmark command and how to read its output.

Each framework is a plug-in registered by name; the harness only talks to the
`Framework` base class.
"""

from frameworks.registry import available_frameworks, get_framework, register_framework

__all__ = ["available_frameworks", "get_framework", "register_framework"]
