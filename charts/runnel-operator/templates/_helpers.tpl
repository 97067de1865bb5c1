{{- define "runnel-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "runnel-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "runnel-operator.labels" -}}
{{ include "runnel-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* What the operator may do in a namespace it manages: least privilege for its reconcilers. */}}
{{- define "runnel-operator.rules" -}}
- apiGroups: [kafka.runnel.dev]
  resources: [kafkaclusters, kafkatopics]
  verbs: [get, list, watch, patch]
- apiGroups: [kafka.runnel.dev]
  resources: [kafkaclusters/status, kafkatopics/status]
  verbs: [get, patch]
# Owner references that block deletion need update on the owner's finalizers.
- apiGroups: [kafka.runnel.dev]
  resources: [kafkaclusters/finalizers]
  verbs: [update]
# Owned objects are watched, so that drift is repaired at once.
- apiGroups: [""]
  resources: [configmaps, services, serviceaccounts]
  verbs: [get, list, watch, create, patch]
# delete: growing the volumes re-creates the StatefulSet, orphaning (keeping) its pods.
- apiGroups: [apps]
  resources: [statefulsets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch]
# The Role that lets a broker's rack init container read its own pod (spec.rack), which the
# operator can grant because it holds "get pods" itself.
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, list, watch, create, patch, delete]
# A re-created cluster adopts the id of the broker volumes kept from its predecessor; growing
# spec.storage.size patches each broker's claim.
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [list, patch]
# Rolling restarts delete one broker pod at a time; patch sets a broker's rack annotation.
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, patch, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
