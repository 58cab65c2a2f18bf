{{/* The operator's RBAC rules: files/operator-rbac.yaml ({framework: [...], application: [...]}). */}}
{{- define "spotter.operatorRules" -}}
{{- $raw := .Files.Get "files/operator-rbac.yaml" }}
{{- if not $raw }}
{{- fail "files/operator-rbac.yaml is missing from the chart" }}
{{- end }}
{{- $rbac := fromYaml $raw }}
{{- if hasKey $rbac "Error" }}
{{- fail (printf "files/operator-rbac.yaml is not valid YAML: %s" $rbac.Error) }}
{{- end }}
{{- $rules := concat ($rbac.framework | default list) ($rbac.application | default list) }}
{{- if not $rules }}
{{- fail "files/operator-rbac.yaml has no rules under framework or application" }}
{{- end }}
{{- toYaml $rules }}
{{- end }}
