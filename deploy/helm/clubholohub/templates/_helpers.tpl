{{/* Names, labels and the values every template shares. */}}

{{- define "clubholohub.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "clubholohub.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "clubholohub.labels" -}}
app.kubernetes.io/name: {{ include "clubholohub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{ include "clubholohub.commonLabels" . }}
{{- end }}

{{/* The labels that are not selectors (pod templates add them to selectorLabels). */}}
{{- define "clubholohub.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: clubholohub
{{- end }}

{{/* A pod template's labels: (dict "ctx" $ "component" "gateway"). */}}
{{- define "clubholohub.podLabels" -}}
{{ include "clubholohub.selectorLabels" . }}
{{ include "clubholohub.commonLabels" .ctx }}
{{- end }}

{{/* Selector labels of one component: pass (dict "ctx" $ "component" "gateway"). */}}
{{- define "clubholohub.selectorLabels" -}}
app.kubernetes.io/name: {{ include "clubholohub.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "clubholohub.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "clubholohub.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "clubholohub.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the product's credentials (see values.yaml "secrets"). */}}
{{- define "clubholohub.secretName" -}}
{{- if .Values.secrets.externalSecrets.enabled }}
{{- printf "%s-secrets" (include "clubholohub.fullname" .) }}
{{- else if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- fail "set secrets.existingSecret or secrets.externalSecrets.enabled: the chart never holds credentials in values" }}
{{- end }}
{{- end }}

{{- define "clubholohub.devSecretName" -}}
{{- printf "%s-devstores" (include "clubholohub.fullname" .) }}
{{- end }}

{{- define "clubholohub.anyDevStore" -}}
{{- if or .Values.devStores.postgres.enabled .Values.devStores.mongo.enabled .Values.devStores.redis.enabled }}true{{ end }}
{{- end }}

{{/* Keys the main Secret must hold, one per line: what ExternalSecret fetches and what the pods mount. */}}
{{- define "clubholohub.secretKeys" -}}
{{- $keys := list "smtp_url" "auth_token" }}
{{- if not .Values.secrets.jwtKeysSecret }}{{ $keys = prepend $keys "secret_key" }}{{ end }}
{{- if not .Values.devStores.postgres.enabled }}{{ $keys = append $keys "postgres_url" }}{{ end }}
{{- if not .Values.devStores.mongo.enabled }}{{ $keys = append $keys "mongo_url" }}{{ end }}
{{- if not .Values.devStores.redis.enabled }}{{ $keys = append $keys "redis_url" }}{{ end }}
{{- if and .Values.ray.enabled .Values.ray.gcsFaultTolerance.enabled .Values.ray.gcsFaultTolerance.redisPassword (not .Values.devStores.redis.enabled) }}{{ $keys = append $keys "redis_password" }}{{ end }}
{{- if .Values.secrets.s3 }}{{ $keys = append $keys "s3_url" }}{{ end }}
{{- join "\n" (uniq $keys) }}
{{- end }}

{{- define "clubholohub.rayName" -}}
{{- printf "%s-ray" (include "clubholohub.fullname" .) | trunc 40 | trimSuffix "-" }}
{{- end }}

{{/* ray://<KubeRay's head Service>:10001, or the configured external cluster. */}}
{{- define "clubholohub.rayAddress" -}}
{{- if .Values.ray.enabled }}
{{- printf "ray://%s-head-svc.%s.svc:%d" (include "clubholohub.rayName" .) .Release.Namespace (int .Values.ray.clientPort) }}
{{- else if .Values.ray.externalAddress }}
{{- .Values.ray.externalAddress }}
{{- else }}
{{- fail "ray.enabled is false: set ray.externalAddress (ray://host:10001) to an existing cluster" }}
{{- end }}
{{- end }}

{{- define "clubholohub.redisAddress" -}}
{{- if .Values.devStores.redis.enabled }}
{{- printf "%s-redis:6379" (include "clubholohub.fullname" .) }}
{{- else if .Values.ray.gcsFaultTolerance.redisAddress }}
{{- .Values.ray.gcsFaultTolerance.redisAddress }}
{{- else }}
{{- fail "ray.gcsFaultTolerance.enabled needs ray.gcsFaultTolerance.redisAddress (host:port of the product's Redis) or devStores.redis.enabled" }}
{{- end }}
{{- end }}

{{/* A container securityContext from the hardened defaults; the policy check requires every field. */}}
{{- define "clubholohub.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext }}
{{- end }}

{{- define "clubholohub.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{/* Every credential as a file under /run/secrets/clubhub: the app reads CLUBHUB_*_FILE, and a
     rotated Secret reaches the file without editing the Deployment. */}}
{{- define "clubholohub.secretsVolume" -}}
- name: secrets
  projected:
    defaultMode: 0440
    sources:
      - secret:
          name: {{ include "clubholohub.secretName" . }}
          items:
            {{- range (include "clubholohub.secretKeys" . | splitList "\n") }}
            - key: {{ . }}
              path: {{ . }}
            {{- end }}
      {{- if include "clubholohub.anyDevStore" . }}
      - secret:
          name: {{ include "clubholohub.devSecretName" . }}
          items:
            {{- range $store := list "postgres" "mongo" "redis" }}
            {{- if (index $.Values.devStores $store).enabled }}
            - key: {{ $store }}_url
              path: {{ $store }}_url
            {{- end }}
            {{- end }}
      {{- end }}
{{- end }}
