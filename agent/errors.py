"""Errors the CLI turns into one line and an exit code (see DESIGN.md, CLI conventions)."""


class UsageError(Exception):
    """Bad flag, missing or unreadable file, unsupported input, missing API key: exit 2."""

    exit_code = 2


class ModelFailure(Exception):
    """The model or its API failed after retries: exit 3."""

    exit_code = 3
