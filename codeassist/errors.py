"""Errors that reach the user as one clear line, never as a traceback."""


class UserError(Exception):
    """Wrong outside input (a file, a flag, a model path): the message names it and the fix.

    The CLI prints the message and exits with status 2.
    """

    exit_code = 2
