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
- apiGroups: [""]
  resources: [configmaps, services, serviceaccounts]
  verbs: [get, create, patch]
- apiGroups: [apps]
  resources: [statefulsets]
  verbs: [get, list, watch, create, patch]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, create, patch]
# Rolling restarts delete one broker pod at a time.
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
