"""Placeholder substitution inside one argument, never through a shell.

Each argument of a command is substituted on its own, so a value such as
`x; rm -rf ~` stays a single literal argument whatever it contains.
"""

from __future__ import annotations

import re

from aipep_core.errors import UserError

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.\-]*)\}")


def substitute(template: str, values: dict[str, str], *, where: str) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            known = ", ".join("{" + key + "}" for key in sorted(values))
            raise UserError(f"{where}: unknown placeholder {{{name}}}; known are {known}")
        return values[name]

    return _PLACEHOLDER.sub(replace, template)
