"""The expected failures of a study, one hierarchy: each message is one line a user can act on.

Never imports TensorFlow or Click, so a notebook, a Dask worker and the CLI all catch the same classes; the
CLI turns any `StudyError` into `Error: <message>` and exit code 2.
"""

from __future__ import annotations


class StudyError(Exception):
    """Bad input or an unusable file or folder: nothing was damaged, and the message says what to fix."""


class ConfigError(StudyError, ValueError):
    """A config that cannot describe a study; the message names the offending key."""


class ResultsError(StudyError, OSError):
    """A results folder, run directory or file that cannot be read or written (a full disk included)."""


class SourceModelError(StudyError, ValueError):
    """A source model that is missing, unreadable, or does not fit the study."""


class DamagedRunError(ResultsError):
    """A file of a finished run or sweep cell is missing or differs from its manifest; the message names it."""


class OtherStudyError(StudyError, ValueError):
    """A run checked against a baseline of another study; the message names the settings that differ."""


class UnverifiedRunWarning(UserWarning):
    """A run, cell or baseline written before they recorded manifests (or their study): read, not fully verified."""
