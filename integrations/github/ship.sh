#!/usr/bin/env bash
# Ship a release artifact to Ferry and, when an app and env are given, deploy it (and wait).
# Reads: FERRY_SERVER, FERRY_TOKEN, FERRY_CLI, FERRY_APP, FERRY_ENV, FERRY_ENV_FILES, FERRY_ITEMS, FERRY_VARS,
# FERRY_WAIT, FERRY_TIMEOUT. Writes artifact-id and release-id to $GITHUB_OUTPUT when it is set.
set -euo pipefail
cli=${FERRY_CLI:-ferry}
ferry() { $cli "$@"; }
json_field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s);const r=process.argv[1].split(".").reduce((o,k)=>o?.[k],v);process.stdout.write(r==null?"":String(r))})' "$1"; }

args=()
for f in ${FERRY_ENV_FILES:-}; do args+=(--env-file "$f"); done
while IFS= read -r line; do [ -n "$line" ] && args+=(--item "$line"); done <<< "${FERRY_ITEMS:-}"
while IFS= read -r line; do [ -n "$line" ] && args+=(--var "$line"); done <<< "${FERRY_VARS:-}"

ferry artifact create "${args[@]}"
artifact_id=$(ferry artifact push --output json | json_field id)
echo "ferry: artifact $artifact_id"
if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "artifact-id=$artifact_id" >> "$GITHUB_OUTPUT"; fi

if [ -n "${FERRY_APP:-}" ] && [ -n "${FERRY_ENV:-}" ]; then
  deploy=(deploy --app "$FERRY_APP" --env "$FERRY_ENV" --artifact "$artifact_id")
  if [ "${FERRY_WAIT:-true}" = "true" ]; then deploy+=(--wait --timeout "${FERRY_TIMEOUT:-20m}"); fi
  # Live progress goes to stderr (the job log); stdout is the release as JSON.
  status=0
  ferry "${deploy[@]}" --output json > "${RUNNER_TEMP:-/tmp}/ferry-release.json" || status=$?
  release_id=$(json_field release.id < "${RUNNER_TEMP:-/tmp}/ferry-release.json" || true)
  if [ -n "${GITHUB_OUTPUT:-}" ] && [ -n "$release_id" ]; then echo "release-id=$release_id" >> "$GITHUB_OUTPUT"; fi
  exit "$status"
fi
