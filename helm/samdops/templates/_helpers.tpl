{{/* The namespace of samdops' own workloads. */}}
{{- define "samdops.namespace" -}}
{{- default .Release.Namespace .Values.namespace.name -}}
{{- end -}}

{{- define "samdops.labels" -}}
app.kubernetes.io/name: samdops
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: samdops
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Labels of one component; dict "root" $ "component" NAME. */}}
{{- define "samdops.componentLabels" -}}
{{ include "samdops.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "samdops.selector" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Pod-level security context for a uid. */}}
{{- define "samdops.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ . }}
fsGroup: {{ . }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "samdops.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The object store's S3 endpoint as host:port, and whether it is TLS. */}}
{{- define "samdops.s3Endpoint" -}}
{{- if eq .Values.objectStore.mode "minio" -}}
{{ printf "samdops-minio.%s.svc.cluster.local:9000" (include "samdops.namespace" .) }}
{{- else -}}
{{ .Values.objectStore.external.endpoint }}
{{- end -}}
{{- end -}}

{{- define "samdops.s3Secure" -}}
{{- if eq .Values.objectStore.mode "minio" }}false{{ else }}{{ .Values.objectStore.external.secure }}{{ end -}}
{{- end -}}

{{- define "samdops.s3Url" -}}
{{- if eq (include "samdops.s3Secure" .) "true" }}https{{ else }}http{{ end }}://{{ include "samdops.s3Endpoint" . }}
{{- end -}}

{{- define "samdops.pipelineRoot" -}}
{{ printf "s3://%s/%s" .Values.objectStore.bucket .Values.kfp.pipelineRootPrefix }}
{{- end -}}

{{/* The Vault roles: list of dicts role, serviceAccount, namespace, policy (from files/vault).
The model server's role (serving.vaultRole) is bound to serving.serviceAccount. */}}
{{- define "samdops.vaultRoles" -}}
{{- $roles := list -}}
{{- range $path, $_ := .Files.Glob "files/vault/*.hcl" -}}
{{- $policy := base $path | trimSuffix ".hcl" -}}
{{- $role := trimPrefix "samdops-" $policy -}}
{{- if has $role $.Values.vault.stepRoles -}}
{{- $roles = append $roles (dict "role" $policy "policy" $policy "serviceAccount" $.Values.kfp.runServiceAccount "namespace" $.Values.kfp.namespace) -}}
{{- else if eq $policy $.Values.serving.vaultRole -}}
{{- $roles = append $roles (dict "role" $policy "policy" $policy "serviceAccount" $.Values.serving.serviceAccount "namespace" (include "samdops.namespace" $)) -}}
{{- else -}}
{{- $roles = append $roles (dict "role" $policy "policy" $policy "serviceAccount" $policy "namespace" (include "samdops.namespace" $)) -}}
{{- end -}}
{{- end -}}
{{- toJson $roles -}}
{{- end -}}

{{/* Fail on values the schema cannot express. */}}
{{- define "samdops.checks" -}}
{{- range .Values.vault.stepRoles -}}
{{- if not ($.Files.Get (printf "files/vault/samdops-%s.hcl" .)) -}}
{{- fail (printf "vault.stepRoles: no policy files/vault/samdops-%s.hcl in the chart (copy of manifests/vault; run `make chart-sync`)" .) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.monitoring.enabled (not (.Files.Get "files/vault/samdops-drift-monitor.hcl")) -}}
{{- fail "monitoring.enabled: needs the Vault policy files/vault/samdops-drift-monitor.hcl (run `make chart-sync`)" -}}
{{- end -}}
{{- if and .Values.monitoring.enabled (not (has "drift-monitor" .Values.vault.stepRoles)) -}}
{{- fail "monitoring.enabled: the monitoring pipeline's steps log in to Vault as drift-monitor; add it to vault.stepRoles" -}}
{{- end -}}
{{- if .Values.serving.enabled -}}
{{- include "samdops.servingChecks" . -}}
{{- end -}}
{{- end -}}

{{/* What serving.enabled needs beyond the schema. */}}
{{- define "samdops.servingChecks" -}}
{{- $s := .Values.serving -}}
{{- if not $s.model -}}
{{- fail "serving.model: required when serving.enabled: NAME@VERSION (e.g. sepsis-risk@1) or NAME of a released model" -}}
{{- end -}}
{{- if not $s.modelSha256 -}}
{{- fail (printf "serving.modelSha256: required when serving.enabled: the sha256 of %s's model file (64 hex digits; `samdops registry show %s` gives it)" $s.model $s.model) -}}
{{- end -}}
{{- if not (regexMatch "^[0-9a-f]{64}$" (trimPrefix "sha256:" $s.modelSha256)) -}}
{{- fail (printf "serving.modelSha256: %q is not a sha256 (64 lowercase hex digits, optionally prefixed sha256:)" (trunc 80 $s.modelSha256)) -}}
{{- end -}}
{{- if not (.Files.Get (printf "files/vault/%s.hcl" $s.vaultRole)) -}}
{{- fail (printf "serving.vaultRole: no policy files/vault/%s.hcl in the chart (copy of manifests/vault; run `make chart-sync`)" $s.vaultRole) -}}
{{- end -}}
{{- if has (trimPrefix "samdops-" $s.vaultRole) .Values.vault.stepRoles -}}
{{- fail (printf "serving.vaultRole: %s is a pipeline-step role (vault.stepRoles), bound to %s; give the server its own role" $s.vaultRole .Values.kfp.runServiceAccount) -}}
{{- end -}}
{{- if gt (int $s.minReplicas) (int $s.maxReplicas) -}}
{{- fail (printf "serving.maxReplicas: %d is below serving.minReplicas %d" (int $s.maxReplicas) (int $s.minReplicas)) -}}
{{- end -}}
{{- if and (eq $s.journal.volume "pvc") (gt (int $s.maxReplicas) 1) -}}
{{- fail "serving.journal.volume: pvc is one ReadWriteOnce claim, which replicas cannot share; set serving.maxReplicas to 1 or use emptyDir" -}}
{{- end -}}
{{- end -}}
