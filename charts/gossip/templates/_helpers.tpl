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

{{/*
The namespace the operator watches: watch.namespace, else the release namespace; "" only when
watch.clusterWide is explicitly true (every namespace).
*/}}
{{- define "gossip.watchNamespace" -}}
{{- if .Values.watch.clusterWide -}}
{{- if .Values.watch.namespace -}}
{{- fail "watch.clusterWide=true watches every namespace: leave watch.namespace empty" -}}
{{- end -}}
{{- else -}}
{{- default .Release.Namespace .Values.watch.namespace -}}
{{- end -}}
{{- end -}}

{{/* The operator's RBAC rules (see rbac.yaml): only the verbs it uses. */}}
{{- define "gossip.rbacRules" -}}
# GossipClusters: read by the reconciler (get) and its informer (list, watch); the status is
# written (status/patch), and of the object itself only the finalizer gossip.dev/data-retention
# (patch) that `dataRetentionPolicy: Delete` sets. finalizers/update: children carry
# ownerReferences with blockOwnerDeletion, which the OwnerReferencesPermissionEnforcement
# admission plugin allows only to whoever may update the owner's finalizers.
- apiGroups: [gossip.dev]
  resources: [gossipclusters]
  verbs: [get, list, watch, patch]
- apiGroups: [gossip.dev]
  resources: [gossipclusters/status]
  verbs: [patch]
- apiGroups: [gossip.dev]
  resources: [gossipclusters/finalizers]
  verbs: [update]
# Owned kinds: watched by informers (list, watch, filtered on the operator's label), applied
# with server-side apply (patch, and create when the object is new), pruned when no longer
# desired (delete).
- apiGroups: [apps]
  resources: [deployments, statefulsets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: ['']
  resources: [services, configmaps, serviceaccounts]
  verbs: [get, list, watch, create, patch, delete]
# Secrets: never listed or watched (RBAC cannot filter a list by label, so list would expose
# every Secret in the namespace). The operator reads by name the Secrets a GossipCluster points
# at (get) and creates its generated ones once (create); it never updates or deletes them
# (owned ones go with the GossipCluster through the garbage collector).
- apiGroups: ['']
  resources: [secrets]
  verbs: [get, create]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies, ingresses]
  verbs: [get, list, watch, create, patch, delete]
# The autoscaler lists the gateway pods (by their labels, for pod IP and port) and reads each
# pod's /metrics over HTTP (no pods/proxy access needed).
- apiGroups: ['']
  resources: [pods]
  verbs: [list]
# Under `dataRetentionPolicy: Delete`, the deleted cluster's store volume claims, found by its
# labels (list) and deleted (delete) before the finalizer goes.
- apiGroups: ['']
  resources: [persistentvolumeclaims]
  verbs: [list, delete]
# Kubernetes events on GossipClusters (core/v1 Events).
- apiGroups: ['']
  resources: [events]
  verbs: [create]
{{- if .Values.rbac.monitoring }}
# spec.monitoring: a ServiceMonitor and a PrometheusRule per GossipCluster, server-side applied.
- apiGroups: [monitoring.coreos.com]
  resources: [servicemonitors, prometheusrules]
  verbs: [create, patch]
{{- end }}
{{- end }}
