"""Exceptions the engine raises. Each carries one message meant for the user."""


class InteractiveSegError(Exception):
    """Base class: anything the user can fix (bad input, bad model file)."""


class InputError(InteractiveSegError, ValueError):
    """An image, box, scribble or setting that cannot be used as given."""


class ModelError(InteractiveSegError):
    """A model file that is missing, corrupt, or does not match its card."""


class Cancelled(InteractiveSegError):
    """The user cancelled a long operation; the session is unchanged."""
