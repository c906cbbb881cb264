"""Errors that the command line turns into one readable line instead of a traceback."""


class UserError(Exception):
    """A mistake in what the user gave us (a spec, a flag, a path).

    The message must name the file, the field and what was expected: it is
    printed alone, without a traceback, and the process exits with status 2.
    """

    exit_status = 2


class RunFailure(Exception):
    """The thing under test failed (crash, hang, bad output).

    Unlike UserError this is recorded as a result with its logs; the harness
    keeps going and exits non-zero at the end.
    """
