# Policy samdops-evaluate: the evaluation step: reads model and data, writes metrics to the artifact store.
# Least privilege: its own KV paths, the object-store credentials, and signing audit checkpoints.

# Object-store credentials (keys access_key, secret_key), read when the step opens the store.
path "samdops/data/s3" {
  capabilities = ["read"]
}

# This role's own secrets, and nothing of any other role.
path "samdops/data/evaluate/*" {
  capabilities = ["read"]
}

# Sign the checkpoint that covers this step's audit events (its start, its reads, its end) with
# the audit key; the private key never leaves Vault.
path "transit/sign/samdops-audit" {
  capabilities = ["update"]
}

# The public key, to verify the log before appending.
path "transit/keys/samdops-audit" {
  capabilities = ["read"]
}
