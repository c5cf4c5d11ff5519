"""The one exception tree of samdops.

Every error the library raises on purpose derives from :class:`SamdopsError`. Messages say what is
wrong and how to fix it; the CLI and each pipeline step print them as one line and exit non-zero.
Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class SamdopsError(Exception):
    """Base of every error samdops raises on purpose."""


class ConfigError(SamdopsError):
    """A configuration file or value is missing or invalid."""


class DataContractError(SamdopsError):
    """Input data breaks its data contract (columns, dtypes, ranges, missingness, identifiers)."""


class InputFormatError(DataContractError):
    """An input file cannot be read as the format it claims to be."""


class VerificationError(SamdopsError):
    """Something that must verify (a digest, a signature, a proof) does not."""


class DigestMismatch(VerificationError):
    """Bytes do not hash to the sha256 digest they were recorded or requested under."""


class ValidationFailed(SamdopsError):
    """A data-validation suite condition failed."""


class GateFailed(SamdopsError):
    """A model missed an acceptance criterion."""


class RegistryError(SamdopsError):
    """The model registry refused an operation or is inconsistent."""


class StoreError(SamdopsError):
    """The artifact store cannot complete an operation."""


class SecretsUnavailable(SamdopsError):
    """A secret cannot be obtained; the step that needs it must fail closed."""


class PipelineError(SamdopsError):
    """A pipeline could not be compiled or a pipeline run failed."""


class AuditError(SamdopsError):
    """The audit log could not record an event durably; the action it records must not happen."""


class SignatureInvalid(VerificationError):
    """A signature does not verify with the given public key."""


class AuditVerificationError(VerificationError):
    """The audit log (or an export of it) fails verification.

    ``index`` is the first entry that fails, or ``None`` when the failure is not tied to one entry
    (for example a checkpoint signature).
    """

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class CheckpointInvalid(AuditVerificationError):
    """A checkpoint is malformed, badly signed, or does not match the log it claims to cover."""


class AccessDenied(SamdopsError):
    """The actor's role does not allow the action, or separation of duties forbids it."""


class AuthenticationFailed(SamdopsError):
    """Re-authentication for a signature failed, or signing is locked for the user."""


class LifecycleError(RegistryError):
    """A lifecycle transition is not allowed from the model's current state."""


class PccpError(SamdopsError):
    """A change falls outside the Predetermined Change Control Plan, or no plan is in force."""


class PackageVerificationError(VerificationError):
    """A model package fails verification; ``failures`` names each file or signature that fails."""

    def __init__(self, message: str, *, failures: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.failures = failures


class DriftInputError(DataContractError):
    """Input to the drift monitor is unreadable or does not match the reference."""


class ServingRefused(SamdopsError):
    """A model may not be served: not released, not verified, or not the pinned digest."""


class RowsRefused(DataContractError):
    """Rows of a prediction request are outside the model's data contract (HTTP 422).

    ``refused`` holds one ``{"row", "field", "value", "reason"}`` mapping per refused row.
    """

    def __init__(self, message: str, *, refused: tuple[dict[str, object], ...] = ()) -> None:
        super().__init__(message)
        self.refused = refused
