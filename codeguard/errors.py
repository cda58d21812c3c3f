"""The typed error hierarchy: every error a user can cause carries its exit code."""

from __future__ import annotations


class ExitCode:
    """Process exit codes of the CLI (documented in the README)."""

    CLEAN = 0
    FINDINGS = 1
    USAGE = 2
    INTERNAL = 3
    UNAVAILABLE = 4


class CodeguardError(Exception):
    """A problem the user can fix; the CLI prints the message without a traceback."""

    exit_code = ExitCode.USAGE


class UsageError(CodeguardError):
    """Bad arguments or a path that does not exist."""


class ConfigError(CodeguardError):
    """Malformed or invalid configuration."""


class SourceError(CodeguardError):
    """A reference source cannot be read (unknown git revision, clone failure...)."""


class IndexUnavailable(CodeguardError):
    """The reference index is missing, corrupt, or built with incompatible parameters."""

    exit_code = ExitCode.UNAVAILABLE


class IndexMissing(IndexUnavailable):
    """No index at the path given (nothing was ever added there)."""
