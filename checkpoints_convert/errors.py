"""The one exception the converter raises for anything wrong with a source or its options."""


class ConversionError(Exception):
    """A checkpoint cannot be converted; the message names the file, key and shape at fault.

    Raised before any output file is written (outputs go to temporary files that are
    renamed only when everything succeeded), so a failed conversion leaves nothing behind.
    """


class OutputError(ConversionError):
    """The source was fine but writing the outputs failed (a full disk, no permission):
    the command exits 1 for this, 2 for every other ConversionError (bad input)."""
