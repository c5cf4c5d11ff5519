# Policy samdops-serving: the model server (helm/samdops/templates/inferenceservice.yaml). It reads
# the registry, the audit log and the model file from the state location, and uploads its
# prediction journal there, with the object-store credentials. It signs nothing and writes no
# secret: read-only in Vault.
# Least privilege: its own KV paths, the object-store credentials, the audit key's public half.
# The S3 credentials are the platform's one key pair, so this policy cannot narrow which objects
# of the bucket the server may read or write.

# Object-store credentials (keys access_key, secret_key), read when the server opens the store.
path "samdops/data/s3" {
  capabilities = ["read"]
}

# This role's own secrets, and nothing of any other role.
path "samdops/data/serving/*" {
  capabilities = ["read"]
}

# The audit key's public half, to verify the audit log before a model is served.
path "transit/keys/samdops-audit" {
  capabilities = ["read"]
}
