"""Quire's own errors. Library errors are turned into these at the seams, each saying what to do next.

The tree, so a caller catches a family rather than a list:

    QuireError                      every error shown to a person; the message says what to do next
    +-- LLMError                    the language model
    |   +-- BackendUnavailable *    the server does not answer
    |   +-- ModelNotFound           it answers but lacks the model
    |   +-- ContextOverflow         the prompt does not fit the window
    |   +-- UnknownBackend          a backend name nobody knows
    +-- StoreError                  the document store
    |   +-- DocumentNotFound        no such document id or name
    |   +-- StoreUnavailable *      the Chroma server does not answer
    |   +-- StoreReadOnly           the store's folder cannot be written
    |   +-- StoreBusy *             another process holds the write lock
    |   +-- EmbeddingMismatch       the store's vectors come from another model or window
    +-- IngestError                 one file could not be ingested; the rest go on
    +-- CategoryError               a clause categories file that cannot be used
    +-- StepFailed                  one batch step failed for one file, retrying will not help
    +-- BatchBusy                   another batch writes to the same output folder
    +-- PasswordRequired            the app would be reachable from other machines without a password

`*` marks `Transient` errors: waiting and retrying may fix them, so the batch retries those
(with timeouts and dropped connections) and fails the file on any other.
"""

from __future__ import annotations


class QuireError(Exception):
    """Base of every error Quire shows to a person; the message says what to do next."""


class Transient:
    """Marker: the condition may pass by itself (a server restarting, a lock released)."""


class LLMError(QuireError):
    """The language model could not do what was asked."""


class BackendUnavailable(LLMError, Transient):
    """The LLM server does not answer."""


class ModelNotFound(LLMError):
    """The LLM server answers but does not have the model."""


class ContextOverflow(LLMError):
    """The prompt does not fit the model's context window, or the server cut it."""


class UnknownBackend(LLMError):
    """A backend name that the registry does not know."""


class StoreError(QuireError):
    """The document store could not do what was asked."""


class DocumentNotFound(StoreError):
    """A document id or name that is not in the store."""


class StoreUnavailable(StoreError, Transient):
    """The Chroma server (server mode) does not answer."""


class StoreReadOnly(StoreError):
    """The folder holding the store cannot be written (a read-only mount, missing permissions)."""


class StoreBusy(StoreError, Transient):
    """Another process holds the store's write lock for longer than the timeout."""


class EmbeddingMismatch(StoreError):
    """The store's vectors were made by another embedding model or window than the settings ask for."""


class IngestError(QuireError):
    """One file could not be ingested; the rest of the batch goes on."""


class CategoryError(QuireError):
    """A categories file that cannot be used as it is."""


class StepFailed(QuireError):
    """One step failed for one file, for a reason retrying will not fix; the batch goes on."""


class BatchBusy(QuireError):
    """Another batch already writes to this output folder."""


class PasswordRequired(QuireError):
    """The app would be reachable from other machines without a password."""
