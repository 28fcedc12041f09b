"""The errors the tool reports to a person, each with the exit code it leads to.

Every failure a user can cause or meet (bad input, a check that fails) is raised as one of
these with a one-line message naming the file, table or record and what was expected; the
CLI prints that line and exits with the code. Anything else is a bug.
"""

EXIT_OK = 0
EXIT_CHECKS_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


class HiveEtlError(Exception):
    """A failure explained in one line; `exit_code` says how the process ends."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadInput(HiveEtlError):
    """The source, target or an option is not what the tool can work with (exit 2)."""

    exit_code = EXIT_BAD_INPUT


class ChecksFailed(HiveEtlError):
    """The new database failed its post-load checks; nothing was swapped in (exit 1)."""

    exit_code = EXIT_CHECKS_FAILED
