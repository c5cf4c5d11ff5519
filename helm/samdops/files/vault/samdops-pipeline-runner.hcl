# Policy samdops-pipeline-runner: submits pipeline runs. It holds no object-store credentials and
# cannot read any component's secrets; each step reads its own when it runs.

path "samdops/data/pipeline-runner/*" {
  capabilities = ["read"]
}
