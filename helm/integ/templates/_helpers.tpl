{{/*
Shared helpers. Family-scoped helpers take a dict: (dict "root" $ "family" "payments").
*/}}

{{/* The four adapter families, in a fixed order. */}}
{{- define "integ.familyNames" -}}
payments,messaging,identity,storage
{{- end -}}

{{/* The gRPC service each family's readiness probe asks about. */}}
{{- define "integ.grpcService" -}}
{{- $services := dict
  "payments" "integ.payments.v1.PaymentsService"
  "messaging" "integ.messaging.v1.MessagingService"
  "identity" "integ.identity.v1.IdentityService"
  "storage" "integ.storage.v1.StorageService" -}}
{{- get $services . -}}
{{- end -}}

{{- define "integ.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Release-wide base name, cut to 52 characters so that "-messaging" (the longest family suffix)
still fits in a 63-character DNS label.
*/}}
{{- define "integ.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "integ.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of a family's objects: "<fullname>-<family>". */}}
{{- define "integ.familyFullname" -}}
{{- printf "%s-%s" (include "integ.fullname" .root) .family -}}
{{- end -}}

{{- define "integ.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "integ.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Labels shared by every object of the release. */}}
{{- define "integ.commonLabels" -}}
helm.sh/chart: {{ include "integ.chart" . }}
app.kubernetes.io/name: {{ include "integ.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: integ
{{- end -}}

{{/* Selector labels of one family (stable across upgrades). */}}
{{- define "integ.selectorLabels" -}}
app.kubernetes.io/name: {{ include "integ.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .family }}
{{- end -}}

{{/* All labels of one family's objects. */}}
{{- define "integ.labels" -}}
{{ include "integ.commonLabels" .root }}
app.kubernetes.io/component: {{ .family }}
{{- end -}}

{{/* Image reference of one family: registry/repository, then @digest or :tag. */}}
{{- define "integ.image" -}}
{{- $cfg := index .root.Values.families .family -}}
{{- $repository := default (printf "integ-%s" .family) $cfg.image.repository -}}
{{- $ref := printf "%s/%s" (trimSuffix "/" .root.Values.image.registry) $repository -}}
{{- if $cfg.image.digest -}}
{{- printf "%s@%s" $ref $cfg.image.digest -}}
{{- else -}}
{{- $tag := $cfg.image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- printf "%s:%s" $ref $tag -}}
{{- end -}}
{{- end -}}

{{/* terminationGracePeriodSeconds: preStop pause + drain grace + margin. */}}
{{- define "integ.terminationGracePeriod" -}}
{{- $s := .Values.shutdown -}}
{{- add $s.preStopSleepSeconds $s.graceSeconds $s.marginSeconds -}}
{{- end -}}

{{/*
Whether a family gets the data volume (a PersistentVolumeClaim at /var/lib/integ, which is
INTEG_DATA_DIR): every family on SQLite, and storage whenever it lists the sandbox, whose object
contents are files there. Such a family runs one replica with the Recreate strategy.
Renders "true" or nothing. Takes (dict "root" $ "family" "storage").
*/}}
{{- define "integ.dataVolume" -}}
{{- $cfg := index .root.Values.families .family -}}
{{- if eq .root.Values.database.driver "sqlite" -}}
true
{{- else if eq .family "storage" -}}
{{- $names := list -}}
{{- range $p := $cfg.providers -}}
{{- $names = append $names $p.name -}}
{{- end -}}
{{- if has "sandbox" $names -}}
true
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Where the identity family's record key is mounted; INTEG_RECORD_KEY_FILE names the file. */}}
{{- define "integ.recordKeyDir" -}}
/var/run/secrets/integ/record-key
{{- end -}}

{{/* Directory where a provider's Secret keys are mounted. */}}
{{- define "integ.providerSecretDir" -}}
{{- printf "/var/run/secrets/integ/%s" . -}}
{{- end -}}

{{/*
Checks the schema cannot express (or that must hold even with --skip-schema-validation).
Renders nothing; fails the release with a message that names the key at fault.
*/}}
{{- define "integ.validate" -}}
{{- $enabled := list -}}
{{- range $family := splitList "," (include "integ.familyNames" .) -}}
{{- $cfg := index $.Values.families $family -}}
{{- if $cfg.enabled -}}
{{- $enabled = append $enabled $family -}}
{{- $several := or (gt (int $cfg.replicas) 1) $cfg.autoscaling.enabled -}}
{{- if and $several (include "integ.dataVolume" (dict "root" $ "family" $family)) -}}
{{- if eq $.Values.database.driver "sqlite" -}}
{{- fail (printf "families.%s: SQLite allows one replica and no autoscaling; use database.driver=postgres to scale" $family) -}}
{{- else -}}
{{- fail (printf "families.%s: the sandbox keeps objects on the family's data volume, so it allows one replica and no autoscaling" $family) -}}
{{- end -}}
{{- end -}}
{{- if and $several (eq $family "identity") (not ($cfg.recordKey | default dict).existingSecret) -}}
{{- fail "families.identity: more than one replica needs families.identity.recordKey.existingSecret, so that every replica seals with the same INTEG_RECORD_KEY" -}}
{{- end -}}
{{- if and $cfg.autoscaling.enabled (lt (int $cfg.autoscaling.maxReplicas) (int $cfg.autoscaling.minReplicas)) -}}
{{- fail (printf "families.%s.autoscaling: maxReplicas is below minReplicas" $family) -}}
{{- end -}}
{{- $seen := dict -}}
{{- range $p := $cfg.providers -}}
{{- if hasKey $seen $p.name -}}
{{- fail (printf "families.%s.providers: %q is listed twice" $family $p.name) -}}
{{- end -}}
{{- $_ := set $seen $p.name true -}}
{{- if and $p.secretKeys (not $p.existingSecret) -}}
{{- fail (printf "families.%s.providers[%s]: secretKeys needs existingSecret" $family $p.name) -}}
{{- end -}}
{{- range $setting, $_ := $p.settings -}}
{{- if hasKey ($p.secretKeys | default dict) $setting -}}
{{- fail (printf "families.%s.providers[%s]: %s is both a setting and a secret key" $family $p.name $setting) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if not $enabled -}}
{{- fail "enable at least one of families.payments/messaging/identity/storage" -}}
{{- end -}}
{{- if and (eq .Values.database.driver "postgres") (not .Values.database.postgres.existingSecret) -}}
{{- fail "database.postgres.existingSecret is required when database.driver=postgres" -}}
{{- end -}}
{{- end -}}
