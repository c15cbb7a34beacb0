"""Exceptions with messages that name the bad value, what is allowed, and the fix.

The plugin turns `UsageError` into a pytest usage error and everything else into a test failure.
"""


class RobustnessTestsError(Exception):
    """Base class of every error this package raises on purpose."""


class UsageError(RobustnessTestsError, ValueError):
    """The user asked for something that cannot exist (unknown model, bad option value)."""


class ModelError(RobustnessTestsError):
    """A model could not be built, loaded, or does not behave like an ImageNet classifier."""


class WeightsError(ModelError):
    """A weights file is missing, is not a state dict, or does not fit the architecture."""


class DataError(RobustnessTestsError):
    """A dataset is missing, malformed, or holds a file that cannot be decoded."""


class FetchError(DataError):
    """A dataset could not be downloaded (no network, no mirror): the claims that need it skip."""


class ThresholdError(RobustnessTestsError):
    """One or more problems in threshold files; the message lists all of them."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in threshold files:\n{lines}")
