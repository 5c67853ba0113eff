"""Errors that the CLI turns into one clear line on stderr and exit code 2.

Library code raises these for problems the user can fix (a missing file, an unreadable video, missing weights);
anything else is a bug and keeps its traceback.
"""


class DpidmError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class InputError(DpidmError):
    """A bad input file or argument: missing, unreadable, the wrong kind."""


class MissingWeightsError(DpidmError):
    """A weight file a command needs is not where it should be."""
