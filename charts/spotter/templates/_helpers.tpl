{{/*
Names, labels, images and shared environment of the Spotter chart.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "spotter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* "<release>-<name>" (or the release name when it already holds the name), at most 52 characters
so that component suffixes still fit in 63. */}}
{{- define "spotter.fullname" -}}
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

{{/* "<fullname>-<component>": call with (list $ "api"). */}}
{{- define "spotter.componentName" -}}
{{- $root := index . 0 }}
{{- printf "%s-%s" (include "spotter.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of a cluster-scoped object: "<fullname>-<component>-<namespace>", so that releases of the
same name in two namespaces do not claim the same ClusterRole. Call with (list $ "operator"). */}}
{{- define "spotter.clusterName" -}}
{{- $root := index . 0 }}
{{- printf "%s-%s" (include "spotter.componentName" .) $root.Release.Namespace | trunc 253 | trimSuffix "-" }}
{{- end }}

{{- define "spotter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: only what never changes for the life of a release. Call with (list $ "api"). */}}
{{- define "spotter.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "spotter.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* Labels of every object's metadata and every pod template. Call with (list $ "api"). */}}
{{- define "spotter.labels" -}}
{{- $root := index . 0 -}}
{{ include "spotter.selectorLabels" . }}
app.kubernetes.io/part-of: spotter
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
helm.sh/chart: {{ include "spotter.chart" $root }}
{{- if $root.Chart.AppVersion }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
{{- end }}
{{- with $root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* An image reference from {repository, tag, digest}: call with (dict "image" .Values.api.image "root" $). */}}
{{- define "spotter.image" -}}
{{- $img := .image }}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository (default .root.Chart.AppVersion $img.tag) }}
{{- end }}
{{- end }}

{{- define "spotter.operatorImage" -}}
{{- include "spotter.image" (dict "image" .Values.operator.image "root" .) }}
{{- end }}

{{/* The fetchers' image: the operator's, unless any of fetcher.image's repository/tag/digest is set. */}}
{{- define "spotter.fetcherImage" -}}
{{- $op := .Values.operator.image }}
{{- $f := .Values.fetcher.image | default dict }}
{{- if or $f.repository $f.tag $f.digest }}
{{- include "spotter.image" (dict "image" (dict "repository" (default $op.repository $f.repository) "tag" $f.tag "digest" $f.digest) "root" .) }}
{{- else }}
{{- include "spotter.image" (dict "image" $op "root" .) }}
{{- end }}
{{- end }}

{{- define "spotter.fetcherPullPolicy" -}}
{{- default .Values.operator.image.pullPolicy (.Values.fetcher.image | default dict).pullPolicy }}
{{- end }}

{{/* ServiceAccount names. */}}
{{- define "spotter.operatorServiceAccountName" -}}
{{- default (include "spotter.componentName" (list . "operator")) .Values.operator.serviceAccount.name }}
{{- end }}
{{- define "spotter.fetcherServiceAccountName" -}}
{{- default (include "spotter.componentName" (list . "fetcher")) .Values.fetcher.serviceAccount.name }}
{{- end }}
{{- define "spotter.apiServiceAccountName" -}}
{{- default (include "spotter.componentName" (list . "api")) .Values.api.serviceAccount.name }}
{{- end }}

{{/* ServiceAccount annotations merged with the IRSA role: call with (dict "sa" .Values.x.serviceAccount "root" $). */}}
{{- define "spotter.awsServiceAccountAnnotations" -}}
{{- $ann := dict }}
{{- if .root.Values.aws.roleArn }}
{{- $_ := set $ann "eks.amazonaws.com/role-arn" .root.Values.aws.roleArn }}
{{- end }}
{{- $ann = merge (deepCopy (.sa.annotations | default dict)) $ann }}
{{- with $ann }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{/* Redis connection: the Secret with the password ("" when there is none). */}}
{{- define "spotter.redisSecretName" -}}
{{- if .Values.redis.enabled }}
{{- default (include "spotter.componentName" (list . "redis")) .Values.redis.existingSecret }}
{{- else if (.Values.externalRedis | default dict).existingSecret }}
{{- (.Values.externalRedis | default dict).existingSecret }}
{{- else if (.Values.externalRedis | default dict).password }}
{{- include "spotter.componentName" (list . "redis") }}
{{- end }}
{{- end }}

{{- define "spotter.redisSecretKey" -}}
{{- if .Values.redis.enabled }}
{{- ternary .Values.redis.existingSecretKey "redis-password" (not (empty .Values.redis.existingSecret)) }}
{{- else if (.Values.externalRedis | default dict).existingSecret }}
{{- (.Values.externalRedis | default dict).existingSecretKey }}
{{- else }}
{{- print "redis-password" }}
{{- end }}
{{- end }}

{{/* The bundled Redis by its namespace-qualified name: cluster-scope fetchers run in other namespaces. */}}
{{- define "spotter.redisHost" -}}
{{- if .Values.redis.enabled }}
{{- printf "%s.%s.svc" (include "spotter.componentName" (list . "redis")) .Release.Namespace }}
{{- else }}
{{- (.Values.externalRedis | default dict).host }}
{{- end }}
{{- end }}

{{- define "spotter.redisPort" -}}
{{- if .Values.redis.enabled }}{{ .Values.redis.port }}{{ else }}{{ (.Values.externalRedis | default dict).port | default 6379 }}{{ end }}
{{- end }}

{{/* Checks that cannot be expressed in values.schema.json; included by every workload. */}}
{{- define "spotter.validate" -}}
{{- if not .Values.redis.enabled }}
{{- $r := .Values.externalRedis | default dict }}
{{- if and (empty $r.url) (empty $r.host) }}
{{- fail "redis.enabled is false: set externalRedis.url or externalRedis.host" }}
{{- end }}
{{- if and $r.url $r.host }}
{{- fail "externalRedis: set url or host, not both" }}
{{- end }}
{{- if and $r.url (or $r.existingSecret $r.password) }}
{{- fail "externalRedis.url cannot be combined with a password (REDIS_URL wins over REDIS_PASSWORD): use externalRedis.host/port with the password Secret" }}
{{- end }}
{{- end }}
{{- if and (.Values.aws.staticKeys | default dict).create .Values.aws.existingSecret }}
{{- fail "aws: set staticKeys.create or existingSecret, not both" }}
{{- end }}
{{- if and (.Values.aws.staticKeys | default dict).create (or (empty (.Values.aws.staticKeys | default dict).accessKeyId) (empty (.Values.aws.staticKeys | default dict).secretAccessKey)) }}
{{- fail "aws.staticKeys.create needs accessKeyId and secretAccessKey" }}
{{- end }}
{{- if include "spotter.replayEnabled" . }}
{{- if or .Values.aws.existingSecret (.Values.aws.staticKeys | default dict).create }}
{{- fail "replay.enabled brings its own placeholder keys: unset aws.existingSecret and aws.staticKeys.create" }}
{{- end }}
{{- if .Values.aws.endpointUrl }}
{{- fail "replay.enabled points everything at the chart's replay endpoint: unset aws.endpointUrl" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "true" when the replay endpoint is deployed (demo mode), else "". */}}
{{- define "spotter.replayEnabled" -}}
{{- if (.Values.replay | default dict).enabled }}true{{ end }}
{{- end }}

{{/* The replay endpoint's URL, namespace-qualified: cluster-scope fetchers run in other namespaces. */}}
{{- define "spotter.replayUrl" -}}
{{- printf "http://%s.%s.svc:%v" (include "spotter.componentName" (list . "replay")) .Release.Namespace ((.Values.replay | default dict).port | default 8773) }}
{{- end }}

{{/* SPOTTER_SOURCE: "replay" in demo mode, else aws.source. */}}
{{- define "spotter.awsSource" -}}
{{- if include "spotter.replayEnabled" . }}replay{{ else }}{{ .Values.aws.source }}{{ end }}
{{- end }}

{{/* SPOTTER_AWS_ENDPOINT_URL: the replay Service in demo mode, else aws.endpointUrl ("" for none). */}}
{{- define "spotter.awsEndpointUrl" -}}
{{- if include "spotter.replayEnabled" . }}{{ include "spotter.replayUrl" . }}{{ else }}{{ .Values.aws.endpointUrl | default "" }}{{ end }}
{{- end }}

{{/* The AWS key Secret's name ("" when none): in demo mode, the replay placeholder keys. */}}
{{- define "spotter.awsSecretName" -}}
{{- if include "spotter.replayEnabled" . }}
{{- include "spotter.componentName" (list . "replay-keys") }}
{{- else if .Values.aws.existingSecret }}
{{- .Values.aws.existingSecret }}
{{- else if (.Values.aws.staticKeys | default dict).create }}
{{- include "spotter.componentName" (list . "aws") }}
{{- end }}
{{- end }}

{{/* A list of comma-joined values, or "" */}}
{{- define "spotter.csv" -}}
{{- join "," (. | default list) }}
{{- end }}

{{/* Environment shared by the operator and the API: Redis, logging and the defaults. */}}
{{- define "spotter.commonEnv" -}}
{{- $c := .Values.config }}
{{- if and (not .Values.redis.enabled) (.Values.externalRedis | default dict).url }}
- name: REDIS_URL
  value: {{ (.Values.externalRedis | default dict).url | quote }}
{{- else }}
- name: REDIS_HOST
  value: {{ include "spotter.redisHost" . | quote }}
- name: REDIS_PORT
  value: {{ include "spotter.redisPort" . | quote }}
{{- end }}
{{- with include "spotter.redisSecretName" . }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ include "spotter.redisSecretKey" $ }}
{{- end }}
- name: LOG_LEVEL
  value: {{ $c.logLevel | quote }}
- name: SPOTTER_LOG_FORMAT
  value: {{ $c.logFormat | quote }}
- name: SPOTTER_REGIONS
  value: {{ include "spotter.csv" $c.regions | default "all" | quote }}
- name: SPOTTER_PRODUCTS
  value: {{ include "spotter.csv" $c.products | default "Linux/UNIX" | quote }}
{{- with include "spotter.csv" $c.instanceTypes }}
- name: INSTANCE_TYPES
  value: {{ . | quote }}
{{- end }}
- name: UPDATE_INTERVAL
  value: {{ $c.updateInterval | quote }}
- name: CACHE_EXPIRY
  value: {{ $c.cacheExpiry | quote }}
{{- end }}

{{/* {NAME: value} as env entries. */}}
{{- define "spotter.envMap" -}}
{{- range $k, $v := (. | default dict) }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- end }}

{{/* Restricted-PSS volumes and mounts for a read-only root filesystem: /tmp. */}}
{{- define "spotter.tmpVolume" -}}
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: 64Mi
{{- end }}
