{{/* Egress rules shared by the NetworkPolicies. */}}
{{- define "samdops.np.dns" -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: kube-system
      podSelector:
        matchLabels:
          k8s-app: kube-dns
  ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
{{- end -}}
{{- define "samdops.np.objectStore" -}}
{{- if eq .Values.objectStore.mode "minio" -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ include "samdops.namespace" . }}
      podSelector:
        matchLabels:
          {{- include "samdops.selector" (dict "root" . "component" "minio") | nindent 10 }}
  ports:
    - {protocol: TCP, port: 9000}
{{- else -}}
{{- $port := 443 -}}
{{- $parts := splitList ":" .Values.objectStore.external.endpoint -}}
{{- if eq (len $parts) 2 }}{{ $port = index $parts 1 | int }}{{ end -}}
- to:
    - ipBlock:
        cidr: {{ .Values.objectStore.external.cidr }}
  ports:
    - {protocol: TCP, port: {{ $port }}}
{{- end -}}
{{- end -}}
{{- define "samdops.np.vault" -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ .Values.vault.namespace }}
  ports:
    - {protocol: TCP, port: 8200}
{{- end -}}
{{- define "samdops.np.kfpApi" -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ .Values.kfp.namespace }}
      podSelector:
        matchLabels:
          app: ml-pipeline
  ports:
    - {protocol: TCP, port: 8887}
    - {protocol: TCP, port: 8888}
{{- end -}}
