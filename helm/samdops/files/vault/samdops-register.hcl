# Policy samdops-register: the registration step; it signs audit checkpoints and model records
# with the non-exportable Transit key samdops-audit (the other steps sign only checkpoints).

# Object-store credentials (keys access_key, secret_key), read when the step opens the store.
path "samdops/data/s3" {
  capabilities = ["read"]
}

# This role's own secrets, and nothing of any other role.
path "samdops/data/register/*" {
  capabilities = ["read"]
}

# Sign and verify with the audit key; the private key never leaves Vault.
path "transit/sign/samdops-audit" {
  capabilities = ["update"]
}

path "transit/verify/samdops-audit" {
  capabilities = ["update"]
}

# The public key, to publish it beside signed records.
path "transit/keys/samdops-audit" {
  capabilities = ["read"]
}
