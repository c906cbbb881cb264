"""Errors that the command line turns into one readable line instead of a traceback."""


class UserError(Exception):
    """A mistake in what the user gave us (a spec, a flag, a path).

    The message must name the file, the field and what was expected: it is
    printed alone, without a traceback, and the process exits with status 2.
    """

    exit_status = 2


class DeviceError(UserError):
    """The device, not the input, is what is wrong: unreachable, refusing our key, an unknown
    or changed host key, a program built for another ABI.

    Still one line, but the harness records the tests it could not run there as failed
    results and goes on with the other devices, so a repo driver following several boards
    keeps going when one is off.
    """


class RunFailure(Exception):
    """The thing under test failed (crash, hang, bad output).

    Unlike UserError this is recorded as a result with its logs; the harness
    keeps going and exits non-zero at the end.
    """
