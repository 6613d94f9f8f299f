{{/* Names, labels and switches shared by the templates. */}}

{{- define "gossip.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The operator's object names: <release>-gossip-operator unless the release already says gossip. */}}
{{- define "gossip.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "gossip.name" .) .Release.Name -}}
{{- printf "%s-operator" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s-operator" .Release.Name (include "gossip.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "gossip.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: immutable on the Deployment, so no version in them. */}}
{{- define "gossip.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gossip.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "gossip.labels" -}}
helm.sh/chart: {{ include "gossip.chart" . }}
{{ include "gossip.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gossip
{{- end -}}

{{- define "gossip.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gossip.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* registry/repository:tag[@digest]; the tag defaults to the chart's appVersion. */}}
{{- define "gossip.image" -}}
{{- $img := .Values.image -}}
{{- $ref := printf "%s/%s:%s" $img.registry $img.repository (default .Chart.AppVersion $img.tag) -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $ref $img.digest -}}
{{- else -}}
{{- $ref -}}
{{- end -}}
{{- end -}}

{{/*
A monitoring switch: true, false or "auto" (on when the cluster serves monitoring.coreos.com/v1,
that is when prometheus-operator's CRDs are installed). Renders "true" or "".
*/}}
{{- define "gossip.monitoringEnabled" -}}
{{- $v := index . 0 -}}
{{- $ctx := index . 1 -}}
{{- if eq (toString $v) "auto" -}}
{{- if $ctx.Capabilities.APIVersions.Has "monitoring.coreos.com/v1" -}}true{{- end -}}
{{- else if eq (toString $v) "true" -}}true
{{- end -}}
{{- end -}}

{{/* Labels for monitors and rules: chart labels plus monitoring.labels (e.g. release: kube-prometheus-stack). */}}
{{- define "gossip.monitoringLabels" -}}
{{ include "gossip.labels" . }}
{{- with .Values.monitoring.labels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The namespace the operator watches, or "" for every namespace. */}}
{{- define "gossip.watchNamespace" -}}
{{- if eq (toString .Values.watchNamespace) "release" -}}
{{- .Release.Namespace -}}
{{- else -}}
{{- .Values.watchNamespace -}}
{{- end -}}
{{- end -}}

{{/* The operator's RBAC rules (see rbac.yaml): only the verbs it uses. */}}
{{- define "gossip.rbacRules" -}}
# The custom resource: read and watch it, keep its finalizer, write its status.
- apiGroups: [gossip.dev]
  resources: [gossipclusters]
  verbs: [get, list, watch, update, patch]
- apiGroups: [gossip.dev]
  resources: [gossipclusters/status]
  verbs: [get, update, patch]
- apiGroups: [gossip.dev]
  resources: [gossipclusters/finalizers]
  verbs: [update]
# Children, applied with server-side apply (patch), watched to correct drift, deleted on
# cleanup. Secrets: generated once and kept; external ones are only read.
- apiGroups: [apps]
  resources: [deployments, statefulsets]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: ['']
  resources: [services, configmaps, secrets, serviceaccounts]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, update, patch, delete]
# Data volumes of managed stores: deleted on GossipCluster deletion per dataRetentionPolicy.
- apiGroups: ['']
  resources: [persistentvolumeclaims]
  verbs: [list, delete]
# The autoscaler finds the gateway pods and reads their connection counts.
- apiGroups: ['']
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
# Kubernetes events on the GossipCluster (scaling decisions, errors).
- apiGroups: ['']
  resources: [events]
  verbs: [create, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- if .Values.rbac.monitoring }}
# spec.monitoring: a ServiceMonitor and PrometheusRule per GossipCluster (prometheus-operator).
- apiGroups: [monitoring.coreos.com]
  resources: [servicemonitors, prometheusrules]
  verbs: [get, list, watch, create, update, patch, delete]
{{- end }}
{{- end }}
