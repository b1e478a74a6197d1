"""The user-error type: a mistake the user can fix, which the command line reports as one line.

`ferflow.cli.main` prints `ferflow: <message>` and exits non-zero for any `UserError` (and for a missing
file); every other exception is a bug and keeps its traceback. `--debug` (or FERFLOW_DEBUG=1) shows the
traceback of a user error too. Messages say what is wrong, which file or key, and what to do.
"""


class UserError(Exception):
    """A missing or malformed input, a wrong option or model file: fixable by the user, no traceback."""


__all__ = ["UserError"]
