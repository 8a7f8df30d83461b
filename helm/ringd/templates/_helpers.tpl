{{/*
Named templates of the ringd chart.

ADDING THE RINGD SIDECAR TO YOUR OWN CHART

Three templates render what a pod needs to run ringd beside an application:

  ringd.sidecar               the ringd container (one list item for "containers:")
  ringd.volumes               its volumes (list items for "volumes:"): the Secret
                              and, unless persistence.enabled, the data dir as an
                              emptyDir
  ringd.memberLabels          the pod label that the gossip Service selects

and, for a StatefulSet with persistence.enabled, ringd.volumeClaimTemplates
(list items for "volumeClaimTemplates:").

Each one takes a context whose .Values has the layout of this chart's
values.yaml, plus .Release and .Chart. Two ways to use them:

1. Depend on this chart (recommended). In your Chart.yaml:

     dependencies:
       - name: ringd
         version: 0.1.0
         repository: file://../ringd        # or wherever the chart lives

   In your values.yaml, turn the example workload off and size the cluster:

     ringd:
       workload:
         enabled: false      # no StatefulSet, worker or test pod of ours
       replicas: 3           # your replica count: --bootstrap-expect

   The subchart still renders what the sidecars need: the Secret (gossip key
   and admin token), the headless gossip Service, the PodDisruptionBudget and,
   when asked for, the metrics Service and ServiceMonitor. In your pod
   template, pass the subchart's own context, .Subcharts.ringd, so that names
   and values are the subchart's:

     template:
       metadata:
         labels:
           {{- include "ringd.memberLabels" .Subcharts.ringd | nindent 8 }}
       spec:
         terminationGracePeriodSeconds: 45   # above ringd.shutdownTimeoutSeconds
         securityContext:
           fsGroup: 65532                    # lets ringd write a PersistentVolume
         containers:
           - name: app
             ...                             # talks to http://127.0.0.1:7070
           {{- include "ringd.sidecar" .Subcharts.ringd | nindent 10 }}
         volumes:
           {{- include "ringd.volumes" .Subcharts.ringd | nindent 10 }}

   With an alias in the dependency, use .Subcharts.<alias>.

2. Copy this file into your chart's templates/ and copy the values sections
   it reads (nameOverride, fullnameOverride, clusterDomain, replicas, image,
   ringd, api, secret, persistence) into your values.yaml. Then pass your own
   root context (".") and create the Secret and the headless Service yourself,
   as templates/secret.yaml and templates/service-gossip.yaml here do: the
   Service named "<fullname>-gossip" with clusterIP None,
   publishNotReadyAddresses true, ports 7946 TCP and UDP, and a selector on
   ringd.memberLabels.

Keep the ringd container in "containers", not among the init containers as a
native sidecar: ringd and the application must get SIGTERM at the same time,
so that ringd hands the partitions over while the application still works on
them and acknowledges their release.
*/}}

{{/*
The chart name, or nameOverride.
*/}}
{{- define "ringd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The fully qualified name of the release's objects: fullnameOverride, or
<release>-<name> (only <release> when it contains the name already).
Truncated to 52 characters: a StatefulSet's pods carry the label
controller-revision-hash=<name>-<10 characters>, which must fit in 63, and
the Services add "-gossip" and "-metrics".
*/}}
{{- define "ringd.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The value of the helm.sh/chart label: <chart>-<version>.
*/}}
{{- define "ringd.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every object. Each template adds app.kubernetes.io/component.
*/}}
{{- define "ringd.labels" -}}
helm.sh/chart: {{ include "ringd.chart" . }}
{{ include "ringd.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The labels that never change for the release; selectors use them.
*/}}
{{- define "ringd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ringd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The label every pod with a ringd member of this cluster carries. The gossip
Service, the metrics Service and the PodDisruptionBudget select on it alone,
so it can sit on the pods of another chart next to that chart's own
app.kubernetes.io/* labels without clashing.
*/}}
{{- define "ringd.memberLabels" -}}
ringd.github.io/cluster: {{ include "ringd.fullname" . }}
{{- end }}

{{/*
The ServiceAccount of the example workload.
*/}}
{{- define "ringd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ringd.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The Secret with the keys gossip-key and admin-token: secret.existingSecret,
or the one this chart generates.
*/}}
{{- define "ringd.secretName" -}}
{{- if .Values.secret.existingSecret }}
{{- .Values.secret.existingSecret }}
{{- else }}
{{- include "ringd.fullname" . }}
{{- end }}
{{- end }}

{{/*
The headless Service for gossip; also the StatefulSet's serviceName.
*/}}
{{- define "ringd.gossipServiceName" -}}
{{- printf "%s-gossip" (include "ringd.fullname" .) }}
{{- end }}

{{/*
The Service that exposes the ops port (metrics).
*/}}
{{- define "ringd.metricsServiceName" -}}
{{- printf "%s-metrics" (include "ringd.fullname" .) }}
{{- end }}

{{/*
Images: repository:tag, the tag defaulting to the chart's appVersion.
*/}}
{{- define "ringd.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{- define "ringd.workerImage" -}}
{{- printf "%s:%s" .Values.worker.image.repository (.Values.worker.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{/*
--bootstrap-expect: ringd.bootstrapExpect, or replicas when it is 0.
*/}}
{{- define "ringd.bootstrapExpect" -}}
{{- if gt (int .Values.ringd.bootstrapExpect) 0 }}
{{- int .Values.ringd.bootstrapExpect }}
{{- else }}
{{- int .Values.replicas }}
{{- end }}
{{- end }}

{{/*
--join: the headless Service's DNS name, which resolves to the address of
every member pod, ready or not. ringd resolves it again on every attempt.
The namespace comes from the downward API at run time.
*/}}
{{- define "ringd.joinAddr" -}}
{{- printf "%s.$(POD_NAMESPACE).svc.%s:%d" (include "ringd.gossipServiceName" .) .Values.clusterDomain (int .Values.ringd.ports.gossip) }}
{{- end }}

{{/*
The address the application API binds: loopback (only the containers of the
same pod reach it), or every address with api.bindAll.
*/}}
{{- define "ringd.httpAddr" -}}
{{- if .Values.api.bindAll }}
{{- printf "0.0.0.0:%d" (int .Values.ringd.ports.api) }}
{{- else }}
{{- printf "127.0.0.1:%d" (int .Values.ringd.ports.api) }}
{{- end }}
{{- end }}

{{/*
Checks on values that the schema cannot express. Renders nothing.
*/}}
{{- define "ringd.validate" -}}
{{- $grace := int .Values.terminationGracePeriodSeconds }}
{{- $shutdown := int .Values.ringd.shutdownTimeoutSeconds }}
{{- if lt $grace (add $shutdown 5) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be at least ringd.shutdownTimeoutSeconds (%d) + 5: after the drain ringd still leaves gossip and stops its listeners, and Kubernetes kills the pod at the end of the grace period" $grace $shutdown) }}
{{- end }}
{{- if not (has (int .Values.ringd.voters) (list 1 3 5 7 9)) }}
{{- fail (printf "ringd.voters (%d) must be odd, from 1 to 9" (int .Values.ringd.voters)) }}
{{- end }}
{{- if and .Values.workload.enabled (eq .Values.ringd.shutdown "restart") (ne .Values.workload.kind "StatefulSet") }}
{{- fail (printf "ringd.shutdown \"restart\" needs workload.kind StatefulSet (got %s): a %s's pods come back under new names, so the partitions kept for them would only sit without an owner for ringd.rejoinGrace" .Values.workload.kind .Values.workload.kind) }}
{{- end }}
{{- if and .Values.workload.enabled (gt (int (include "ringd.bootstrapExpect" .)) (int .Values.replicas)) }}
{{- fail (printf "ringd.bootstrapExpect (%d) is above replicas (%d): the members would wait for each other forever" (int .Values.ringd.bootstrapExpect) (int .Values.replicas)) }}
{{- end }}
{{- end }}

{{/*
The ringd container, as one item of a pod's "containers" list.
*/}}
{{- define "ringd.sidecar" -}}
{{- include "ringd.validate" . }}
{{- $r := .Values.ringd }}
{{- $ports := $r.ports -}}
- name: ringd
  image: {{ include "ringd.image" . | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    - --name=$(POD_NAME)
    - --gossip-addr=$(POD_IP):{{ int $ports.gossip }}
    - --join={{ include "ringd.joinAddr" . }}
    - --bootstrap-expect={{ include "ringd.bootstrapExpect" . }}
    - --partitions={{ int $r.partitions }}
    - --voters={{ int $r.voters }}
    - --data-dir=/var/lib/ringd
    - --gossip-key-file=/etc/ringd/secret/gossip-key
    - --admin-token-file=/etc/ringd/secret/admin-token
    {{- if .Values.api.tls.secretName }}
    - --tls-cert-file=/etc/ringd/tls/tls.crt
    - --tls-key-file=/etc/ringd/tls/tls.key
    {{- end }}
    - --http-addr={{ include "ringd.httpAddr" . }}
    {{- if .Values.api.bindAll }}
    - --http-advertise-addr=$(POD_IP):{{ int $ports.api }}
    {{- end }}
    - --ops-addr=$(POD_IP):{{ int $ports.ops }}
    - --shutdown-timeout={{ int $r.shutdownTimeoutSeconds }}s
    - --shutdown={{ $r.shutdown }}
    {{- with $r.rejoinGrace }}
    - --rejoin-grace={{ . }}
    {{- end }}
    {{- if $r.standbys }}
    - --standbys={{ int $r.standbys }}
    {{- end }}
    {{- if and $r.zone (not $r.zoneLabel) }}
    - --zone={{ $r.zone }}
    {{- end }}
    - --log-level={{ $r.logLevel }}
    {{- if $r.logJSON }}
    - --log-json
    {{- end }}
    {{- with $r.lease }}
    - --lease={{ . }}
    {{- end }}
    {{- with $r.releaseTimeout }}
    - --release-timeout={{ . }}
    {{- end }}
    {{- with $r.settle }}
    - --settle={{ . }}
    {{- end }}
    {{- with $r.timingProfile }}
    - --timing-profile={{ . }}
    {{- end }}
    {{- with $r.flapHoldDown }}
    - --flap-hold-down={{ . }}
    {{- end }}
    {{- with $r.deadVoterTimeout }}
    - --dead-voter-timeout={{ . }}
    {{- end }}
    {{- with $r.deadMemberTimeout }}
    - --dead-member-timeout={{ . }}
    {{- end }}
    {{- with $r.appLivenessTimeout }}
    - --app-liveness-timeout={{ . }}
    {{- end }}
    {{- range $r.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  env:
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: POD_IP
      valueFrom:
        fieldRef:
          fieldPath: status.podIP
    - name: POD_NAMESPACE
      valueFrom:
        fieldRef:
          fieldPath: metadata.namespace
    {{- with $r.zoneLabel }}
    - name: RINGD_ZONE
      valueFrom:
        fieldRef:
          fieldPath: metadata.labels['{{ . }}']
    {{- end }}
    {{- with $r.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    - name: gossip
      containerPort: {{ int $ports.gossip }}
      protocol: TCP
    - name: gossip-udp
      containerPort: {{ int $ports.gossip }}
      protocol: UDP
    - name: ops
      containerPort: {{ int $ports.ops }}
      protocol: TCP
    {{- if .Values.api.bindAll }}
    - name: api
      containerPort: {{ int $ports.api }}
      protocol: TCP
    {{- end }}
  {{- if $r.startupProbe.enabled }}
  startupProbe:
    httpGet:
      path: /healthz
      port: ops
    {{- with omit $r.startupProbe "enabled" }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: ops
    {{- with $r.readinessProbe }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: ops
    {{- with $r.livenessProbe }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $r.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $r.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: ringd-data
      mountPath: /var/lib/ringd
    - name: ringd-secret
      mountPath: /etc/ringd/secret
      readOnly: true
    {{- if .Values.api.tls.secretName }}
    # A whole-volume mount (no subPath), so that the kubelet's updates of a
    # renewed certificate reach ringd, which reloads it within 2 s.
    - name: ringd-tls
      mountPath: /etc/ringd/tls
      readOnly: true
    {{- end }}
{{- end }}

{{/*
The volumes of the ringd container, as items of a pod's "volumes" list: the
Secret, and the data dir as an emptyDir unless persistence.enabled (then the
StatefulSet's volumeClaimTemplate "ringd-data" provides it).
*/}}
{{- define "ringd.volumes" -}}
- name: ringd-secret
  secret:
    secretName: {{ include "ringd.secretName" . }}
    # 0444: only the ringd container mounts this volume, and it must be
    # readable whatever the pod's fsGroup.
    defaultMode: 292
    items:
      - key: gossip-key
        path: gossip-key
      - key: admin-token
        path: admin-token
{{- with .Values.api.tls.secretName }}
- name: ringd-tls
  secret:
    secretName: {{ . }}
    defaultMode: 292
{{- end }}
{{- if not .Values.persistence.enabled }}
- name: ringd-data
  emptyDir:
    {{- with .Values.persistence.emptyDir.sizeLimit }}
    sizeLimit: {{ . }}
    {{- else }} {}
    {{- end }}
{{- end }}
{{- end }}

{{/*
The data dir's claim, as an item of a StatefulSet's "volumeClaimTemplates"
list; renders nothing unless persistence.enabled. Its labels are only the
stable selector labels: a StatefulSet's claim templates cannot change later.
*/}}
{{- define "ringd.volumeClaimTemplates" -}}
{{- if .Values.persistence.enabled }}
{{- $p := .Values.persistence -}}
- apiVersion: v1
  kind: PersistentVolumeClaim
  metadata:
    name: ringd-data
    labels:
      {{- include "ringd.selectorLabels" . | nindent 6 }}
  spec:
    accessModes:
      {{- toYaml $p.accessModes | nindent 6 }}
    {{- if $p.storageClassName }}
    {{- if eq $p.storageClassName "-" }}
    storageClassName: ""
    {{- else }}
    storageClassName: {{ $p.storageClassName | quote }}
    {{- end }}
    {{- end }}
    resources:
      requests:
        storage: {{ $p.size | quote }}
{{- end }}
{{- end }}
