"""Errors a user can cause and fix: reported as one line, never as a traceback."""


class UserError(Exception):
    """Bad input or config: the message names the file or key, what is wrong, and the fix."""
