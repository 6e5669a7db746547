"""Quire's own errors. Library errors are turned into these at the seams, each saying what to do next."""

from __future__ import annotations


class QuireError(Exception):
    """Base of every error Quire shows to a person; the message says what to do next."""


class BackendUnavailable(QuireError):
    """The LLM server does not answer."""


class ModelNotFound(QuireError):
    """The LLM server answers but does not have the model."""


class ContextOverflow(QuireError):
    """The prompt does not fit the model's context window, or the server cut it."""


class UnknownBackend(QuireError):
    """A backend name that the registry does not know."""


class IngestError(QuireError):
    """One file could not be ingested; the rest of the batch goes on."""


class DocumentNotFound(QuireError):
    """A document id or name that is not in the store."""


class StoreUnavailable(QuireError):
    """The Chroma server (server mode) does not answer."""


class StoreReadOnly(QuireError):
    """The folder holding the store cannot be written (a read-only mount, missing permissions)."""
