{{- define "ssf.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ssf.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "ssf.envFrom" -}}
- configMapRef:
    name: {{ include "ssf.fullname" . }}
{{- if .Values.secretEnv }}
- secretRef:
    name: {{ .Values.secretEnv }}
{{- end }}
{{- end -}}
