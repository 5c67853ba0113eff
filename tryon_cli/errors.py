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


class SettingError(InputError):
    """A bad value of one named setting: `str()` is "<setting> <detail>".

    Library errors speak of values and setting names ("frames 10:30 is outside ..."); the CLI maps a setting to its
    flag (`--frames`), so the library never has to know about flags."""

    def __init__(self, setting: str, detail: str):
        super().__init__(f"{setting} {detail}")
        self.setting, self.detail = setting, detail
