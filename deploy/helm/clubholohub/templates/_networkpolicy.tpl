{{/* Egress shared by gateways and Ray nodes: DNS, each other, the dev stores, the managed services. */}}
{{- define "clubholohub.commonEgress" -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
- to:
    - podSelector:
        matchLabels:
          {{- include "clubholohub.selectorLabels" (dict "ctx" . "component" "ray") | nindent 10 }}
    {{- range $store := list "postgres" "mongo" "redis" }}
    {{- if (index $.Values.devStores $store).enabled }}
    - podSelector:
        matchLabels:
          {{- include "clubholohub.selectorLabels" (dict "ctx" $ "component" $store) | nindent 10 }}
    {{- end }}
    {{- end }}
{{- with .Values.networkPolicy.externalEgress }}
{{ toYaml . }}
{{- end }}
{{- end }}
