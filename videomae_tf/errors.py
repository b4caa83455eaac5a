"""The package's error for bad input, so that callers (the command line above all) can tell
a user's mistake from a failure of the code."""


class InputError(ValueError):
    """A value, file or option the user gave is wrong; the message names it and what was
    expected. The command line reports it as a usage error (exit code 2) without a
    traceback; any other exception is a failure (exit code 1)."""


class UnknownNameError(InputError, KeyError):
    """A name that is not one of the known ones (a recipe, a config key, a zoo entry): an
    InputError that ``except KeyError`` also catches, printed without KeyError's quotes."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class OptionError(InputError, TypeError):
    """An option a function or model does not take: an InputError that ``except TypeError``
    (what Python raises for an unexpected keyword) also catches."""
