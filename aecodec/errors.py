"""One exception type per kind of user error; the CLI turns each into one line."""


class AecodecError(Exception):
    """Base of every error a user can cause with bad input."""


class BitstreamError(AecodecError):
    """An .aec file that is truncated, corrupted, or of an unknown version."""


class UnsupportedImage(AecodecError):
    """An input that is not an image we can read, or one too large to process."""


class ModelError(AecodecError):
    """An unknown model, missing weights, or weights that do not match a file."""


class OutOfMemory(AecodecError):
    """Too little memory for an input that is valid: the machine's limit, not a corrupt file."""


class OutputExists(AecodecError):
    """An output file that is already there, when the user did not ask to overwrite it."""


class DataError(AecodecError):
    """A data file or folder we cannot read as examples (autoencoder family)."""


class ShapeMismatch(DataError):
    """Examples whose shape does not fit the model they are given to."""


class TextFormatError(AecodecError):
    """An .aet file (learned text compression) that is truncated, corrupted, or of an unknown
    version."""


class UsageError(AecodecError):
    """A command called wrongly: options that conflict, or a value out of range. The command
    line exits with status 2 for these (bad input exits with 1)."""


class TargetUnreachable(AecodecError):
    """A size or bits-per-pixel target that no file of the model can meet."""
