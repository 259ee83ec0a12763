{{/* The name of one service's objects: <release>-<service>. */}}
{{- define "credflow.fullname" -}}
{{- printf "%s-%s" .root.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "credflow.selectorLabels" -}}
app.kubernetes.io/name: credflow
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "credflow.labels" -}}
{{ include "credflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* Whether KEDA scales this service (it has consumer groups and KEDA is on). */}}
{{- define "credflow.scaledByKeda" -}}
{{- if and .root.Values.keda.enabled .service.consumerGroups -}}true{{- end -}}
{{- end -}}
