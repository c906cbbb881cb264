"""Command-line flags made from the platforms' option declarations, and the options a user gave.

Every command line that opens a platform (the harness, aipep-bench, the repo driver,
`python -m platforms`) offers the same flags, named like the options, so a new platform
option needs no change to any parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platforms.registry import declared_options


def add_option_flags(parser: Any) -> None:
    """One flag per declared option on `parser` (a parser or a group of one); absent flags stay
    None, so only what was given is passed on."""
    for name, (option, platforms) in declared_options().items():
        shown = ",".join(option.default) if option.type is list and option.default else option.default
        default = f"; default {shown}" if shown not in (None, False, "") else ""
        help_text = f"{option.help} [{', '.join(platforms)}{default}]"
        if option.type is bool:
            parser.add_argument(f"--{name}", action="store_true", default=None, help=help_text)
        else:
            parser.add_argument(
                f"--{name}",
                type=_comma_list if option.type is list else option.type,
                choices=option.choices or None,
                default=None,
                help=help_text,
            )


def given_options(flag_values: Mapping[str, Any]) -> dict[str, Any]:
    """The platform options among a command line's parsed values (`vars(namespace)`), by name."""
    return {name: flag_values[name] for name in declared_options() if flag_values.get(name) is not None}


def _comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]
