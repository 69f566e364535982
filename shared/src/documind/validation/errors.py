"""What a validation command refuses, as one clear line (the CLI exits 1)."""

from documind.errors import DocumindError


class ValidationRefused(DocumindError):
    """The request cannot be done as asked: unknown validator or task, task not held, ..."""
