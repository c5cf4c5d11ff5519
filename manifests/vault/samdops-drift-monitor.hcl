# Policy samdops-drift-monitor: the drift monitor: reads reference data, production windows and
# the registered model; records its alerts as audit entries and signs the audit checkpoint after
# them with the non-exportable Transit key samdops-audit (so an alert entry is anchored at once).
# Least privilege: its own KV paths, the object-store credentials, signing; no registry writes.

# Object-store credentials (keys access_key, secret_key), read when the step opens the store.
path "samdops/data/s3" {
  capabilities = ["read"]
}

# This role's own secrets, and nothing of any other role.
path "samdops/data/drift-monitor/*" {
  capabilities = ["read"]
}

# Sign audit checkpoints with the audit key; the private key never leaves Vault.
path "transit/sign/samdops-audit" {
  capabilities = ["update"]
}

# The public key, to verify the log before appending.
path "transit/keys/samdops-audit" {
  capabilities = ["read"]
}
