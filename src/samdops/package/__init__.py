"""Self-contained model packages: export, offline verification and bit-exact reproduction.

A package is a directory (optionally one tar archive) that holds a released model's weights with
an OpenSSF model-signing signature, SLSA v1 provenance in a DSSE envelope, the data snapshots (or
their digests) with datasheets, the evaluation report and gate decisions, the registry record
with its e-signatures, the audit entries about the model with inclusion proofs, a model card and
the public keys, so that it can be verified and rebuilt years later without the original
cluster or the network. See :mod:`.export`, :mod:`.verify` and :mod:`.reproduce`.
"""

from samdops.package.export import ExportResult, export_package
from samdops.package.reproduce import ReproduceResult, reproduce_package
from samdops.package.verify import VerifyReport, verify_package

__all__ = [
    "ExportResult",
    "ReproduceResult",
    "VerifyReport",
    "export_package",
    "reproduce_package",
    "verify_package",
]
