#!/usr/bin/env bash
# Registers trainset's custom search attributes on an existing Temporal cluster (idempotent): the
# embedded dev server and the tests register them at start; a real cluster needs this once per namespace.
#
#   bash scripts/search-attributes.sh [--address host:port] [--namespace name] [--dry-run]
#
# Uses the stock Temporal CLI (`temporal` on PATH, or TEMPORAL_CLI). Defaults come from TEMPORAL_ADDRESS and
# TEMPORAL_NAMESPACE. Keep the list in step with src/shared/search-attributes.ts (a unit test checks it).
set -euo pipefail

ATTRIBUTES=(
  Dataset=Keyword
  LogicalDate=Keyword
  DatasetVersion=Keyword
  ModelVersion=Keyword
  Stage=Keyword
  Outcome=Keyword
  TrainMode=Keyword
  DeployMode=Keyword
)

ADDRESS="${TEMPORAL_ADDRESS:-localhost:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
DRY_RUN=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --address) ADDRESS="$2"; shift 2 ;;
    --namespace) NAMESPACE="$2"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    *) printf 'unknown argument: %s\n' "$1" >&2; exit 2 ;;
  esac
done

if [[ "$DRY_RUN" == 1 ]]; then
  for a in "${ATTRIBUTES[@]}"; do
    echo "temporal operator search-attribute create --address $ADDRESS --namespace $NAMESPACE --name ${a%%=*} --type ${a#*=}"
  done
  exit 0
fi

CLI="${TEMPORAL_CLI:-temporal}"
command -v "$CLI" >/dev/null 2>&1 || { echo "the Temporal CLI ($CLI) is not on PATH; set TEMPORAL_CLI" >&2; exit 1; }

existing="$("$CLI" operator search-attribute list --address "$ADDRESS" --namespace "$NAMESPACE")"
for a in "${ATTRIBUTES[@]}"; do
  name="${a%%=*}" type="${a#*=}"
  # The list prints one attribute per row: name first, then its type.
  if awk -v n="$name" '$1 == n { found = 1 } END { exit !found }' <<<"$existing"; then
    echo "$name: already registered"
    continue
  fi
  "$CLI" operator search-attribute create --address "$ADDRESS" --namespace "$NAMESPACE" --name "$name" --type "$type"
  echo "$name: registered as $type"
done
