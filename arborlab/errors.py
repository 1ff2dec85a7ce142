"""The one error type users see.

An `ArborError` carries one clear sentence: what was wrong and what is allowed. The CLI prints it
and exits non-zero without a traceback; anything else escaping is a bug and keeps its traceback.
"""


class ArborError(Exception):
    """A user-facing error whose message is one complete sentence."""
