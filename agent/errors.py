"""Errors the CLI turns into one line and an exit code (see DESIGN.md, CLI conventions). A model or
API failure is agent.models.base.ModelError (exit 3); inside a run it ends the run with status
model_error instead."""


class UsageError(Exception):
    """Bad flag, missing or unreadable file, unsupported input, missing API key: exit 2."""

    exit_code = 2
