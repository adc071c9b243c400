{{- define "ferry.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "ferry.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "ferry.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "ferry.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "ferry.fullname" .) .Values.serviceAccount.name }}{{- else -}}{{ default "default" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{- define "ferry.secretEnv" -}}
{{- if .ref.name }}
- name: {{ .var }}
  valueFrom:
    secretKeyRef: {name: {{ .ref.name | quote }}, key: {{ .ref.key | quote }}}
{{- end }}
{{- end -}}

{{- /* Refuses signing settings the writer could not start with, before anything is applied. */ -}}
{{- define "ferry.signing.validate" -}}
{{- $s := .Values.gitops.signing -}}
{{- if $s.enabled -}}
{{- if not $s.secretName -}}
{{- fail "gitops.signing.secretName is required when gitops.signing.enabled (a Secret holding the signing key)" -}}
{{- end -}}
{{- if not (has $s.format (list "openpgp" "ssh")) -}}
{{- fail (printf "gitops.signing.format must be openpgp or ssh, not %v" $s.format) -}}
{{- end -}}
{{- if not (regexMatch "^[-._a-zA-Z0-9]+$" (toString $s.secretKey)) -}}
{{- fail "gitops.signing.secretKey must be a Secret key name (letters, digits, '-', '_', '.')" -}}
{{- end -}}
{{- if eq $s.format "openpgp" -}}
{{- if not (regexMatch "^([0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$" (toString $s.fingerprint)) -}}
{{- fail "gitops.signing.fingerprint must be the OpenPGP key's fingerprint (40 or 64 hex digits, no spaces) when gitops.signing.format is openpgp" -}}
{{- end -}}
{{- else if $s.fingerprint -}}
{{- fail "gitops.signing.fingerprint is for openpgp only: with ssh the key file is the key" -}}
{{- end -}}
{{- $owned := list "FERRY_GITOPS_SIGNING_KEY" "FERRY_GITOPS_SIGNING_FORMAT" "GNUPGHOME" -}}
{{- range $name, $_ := .Values.env -}}
{{- if has $name $owned -}}{{- fail (printf "env.%s conflicts with gitops.signing, which sets it" $name) -}}{{- end -}}
{{- end -}}
{{- range .Values.extraEnv -}}
{{- if has .name $owned -}}{{- fail (printf "extraEnv %s conflicts with gitops.signing, which sets it" .name) -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
