"""Where each part lives inside a package directory (one place, shared by export and verify)."""

from __future__ import annotations

PACKAGE_SCHEMA = "samdops.model-package/v1"
PACKAGE_FILE = "package.json"
MODEL_DIR = "model"
MODEL_FILE = "model/model.json"
MODEL_SIG = "model.sig"
PROVENANCE = "provenance/provenance.dsse.json"
CONFIG = "config/config.json"
LOCK = "environment/app.lock"
PIPELINE_SPEC = "pipeline/training.yaml"
DATASETS = "data/datasets.json"
EVALUATION = "evaluation/evaluation.json"
VALIDATION_REPORT = "evaluation/validation-report.html"
GATE = "evaluation/gate.json"
RECORD = "registry/record.json"
GOVERNED = "registry/model.json"
AUDIT_PROOFS = "audit/entries.json"
CHECKPOINT = "audit/checkpoint.note"
CARD_JSON = "card/model-card.json"
CARD_MD = "card/model-card.md"
CARD_HTML = "card/model-card.html"
README = "README.md"
SIGNING_PUB = "keys/signing.pub.pem"  # EC P-256: model.sig (OpenSSF model-signing)
PACKAGE_PUB = "keys/package.pub.pem"  # Ed25519: provenance DSSE and MANIFEST.dsse.json
AUDIT_PUB = "keys/audit.pub.pem"  # Ed25519: audit checkpoints
ESIGN_PUB = "keys/esign.pub.pem"  # Ed25519: Part 11 e-signatures
PACKAGE_KEY_NAME = "package-ed25519.pem"
MANIFEST_PAYLOAD_TYPE = "application/vnd.samdops.package-manifest+json"


def snapshot(role: str) -> str:
    return f"data/{role}.parquet"


def datasheet(role: str, ext: str) -> str:
    return f"data/{role}.datasheet.{ext}"
