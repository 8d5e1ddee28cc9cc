{{/* A Ray node's pod template: (dict "ctx" $ "group" "head|shards|rankers" "spec" <values>). KubeRay
     writes the `ray start` command and the token variables into it. */}}
{{- define "clubholohub.rayPodTemplate" -}}
{{- $ := .ctx -}}
metadata:
  labels:
    {{- include "clubholohub.podLabels" (dict "ctx" $ "component" "ray") | nindent 4 }}
    clubhub.io/pool: {{ .group }}
spec:
  {{- if and (eq .group "head") $.Values.ray.enableInTreeAutoscaling }}
  # No serviceAccountName: KubeRay then makes one (named after the cluster) with the RBAC its
  # autoscaler sidecar needs to scale worker groups, and that sidecar needs the token mounted.
  {{- else }}
  serviceAccountName: {{ include "clubholohub.serviceAccountName" $ }}
  automountServiceAccountToken: false
  {{- end }}
  {{- with $.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- include "clubholohub.podSecurityContext" $ | nindent 4 }}
  containers:
    - name: {{ if eq .group "head" }}ray-head{{ else }}ray-worker{{ end }}
      image: {{ include "clubholohub.image" $ }}
      imagePullPolicy: {{ $.Values.image.pullPolicy }}
      env:
        - name: HOME
          value: /tmp
      ports:
        {{- if eq .group "head" }}
        - name: gcs-server
          containerPort: 6379
        - name: dashboard
          containerPort: 8265
        - name: client
          containerPort: {{ $.Values.ray.clientPort }}
        {{- end }}
        - name: metrics
          containerPort: 8080
      # What KubeRay would inject for Ray >= 2.53, written out so the chart's policy sees it.
      livenessProbe:
        httpGet:
          path: /api/healthz
          port: 52365
        initialDelaySeconds: 30
        periodSeconds: 5
        timeoutSeconds: 5
        failureThreshold: 120
      readinessProbe:
        httpGet:
          path: /api/healthz
          port: 52365
        initialDelaySeconds: 10
        periodSeconds: 5
        timeoutSeconds: 5
        failureThreshold: 10
      resources:
        {{- toYaml .spec.resources | nindent 8 }}
      securityContext:
        {{- include "clubholohub.containerSecurityContext" $ | nindent 8 }}
      volumeMounts:
        # Ray's session directory and logs (the root filesystem is read-only).
        - name: tmp
          mountPath: /tmp
        # The object store lives in shared memory.
        - name: shm
          mountPath: /dev/shm
  volumes:
    - name: tmp
      emptyDir: {}
    - name: shm
      emptyDir:
        medium: Memory
        sizeLimit: {{ .spec.shmSize }}
  {{- with .spec.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .spec.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
