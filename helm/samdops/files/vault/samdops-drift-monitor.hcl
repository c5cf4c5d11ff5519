# Policy samdops-drift-monitor: the drift monitor: reads reference data and production windows.
# Least privilege: read-only, its own KV paths and the object-store credentials.

# Object-store credentials (keys access_key, secret_key), read when the step opens the store.
path "samdops/data/s3" {
  capabilities = ["read"]
}

# This role's own secrets, and nothing of any other role.
path "samdops/data/drift-monitor/*" {
  capabilities = ["read"]
}
