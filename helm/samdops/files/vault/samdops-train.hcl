# Policy samdops-train: the training step: reads data and writes the model to the artifact store.
# Least privilege: read-only, its own KV paths and the object-store credentials.

# Object-store credentials (keys access_key, secret_key), read when the step opens the store.
path "samdops/data/s3" {
  capabilities = ["read"]
}

# This role's own secrets, and nothing of any other role.
path "samdops/data/train/*" {
  capabilities = ["read"]
}
