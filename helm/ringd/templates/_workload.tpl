{{- /*
The pod template of the example workload (metadata and spec), shared by the
StatefulSet and the Deployment: the example worker beside the ringd sidecar.
It also checks the grace period against the worker's drain timeout.
*/}}
{{- define "ringd.examplePodTemplate" -}}
{{- $grace := int .Values.terminationGracePeriodSeconds }}
{{- $drain := int .Values.worker.drainTimeoutSeconds }}
{{- if le $grace $drain }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be above worker.drainTimeoutSeconds (%d): Kubernetes kills the pod at the end of the grace period, while the worker still waits for ringd to move its partitions away" $grace $drain) }}
{{- end -}}
metadata:
  labels:
    {{- include "ringd.labels" . | nindent 4 }}
    app.kubernetes.io/component: worker
    {{- include "ringd.memberLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.podAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ include "ringd.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automount }}
  terminationGracePeriodSeconds: {{ int .Values.terminationGracePeriodSeconds }}
  {{- with .Values.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .Values.affinity }}
  affinity:
    {{- toYaml .Values.affinity | nindent 4 }}
  {{- else if eq .Values.podAntiAffinityPreset "soft" }}
  affinity:
    podAntiAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 100
          podAffinityTerm:
            topologyKey: kubernetes.io/hostname
            labelSelector:
              matchLabels:
                {{- include "ringd.selectorLabels" . | nindent 16 }}
                app.kubernetes.io/component: worker
  {{- else if eq .Values.podAntiAffinityPreset "hard" }}
  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        - topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "ringd.selectorLabels" . | nindent 14 }}
              app.kubernetes.io/component: worker
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: worker
      image: {{ include "ringd.workerImage" . | quote }}
      imagePullPolicy: {{ .Values.worker.image.pullPolicy }}
      args:
        {{- if .Values.api.tls.secretName }}
        - --ringd=https://localhost:{{ int .Values.ringd.ports.api }}
        {{- with .Values.api.tls.caKey }}
        - --ca-file=/etc/ringd/tls/{{ . }}
        {{- end }}
        {{- else }}
        - --ringd=127.0.0.1:{{ int .Values.ringd.ports.api }}
        {{- end }}
        - --name=$(POD_NAME)
        - --drain-timeout={{ int .Values.worker.drainTimeoutSeconds }}s
        {{- with .Values.worker.itemTime }}
        - --item-time={{ . }}
        {{- end }}
        {{- if .Values.worker.logJSON }}
        - --log-json
        {{- end }}
        {{- range .Values.worker.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      env:
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- with .Values.worker.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .Values.worker.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.worker.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if .Values.api.tls.secretName }}
      volumeMounts:
        - name: ringd-tls
          mountPath: /etc/ringd/tls
          readOnly: true
      {{- end }}
    {{- include "ringd.sidecar" . | nindent 4 }}
  volumes:
    {{- include "ringd.volumes" . | nindent 4 }}
{{- end }}
