#!/usr/bin/env bash
# Provides the PyTorch reference trainer's runtime (trainers/pytorch/train.py): Debian's /usr/bin/python3 with
# python3-torch (1.13, CPU build) and python3-numpy. Idempotent: quick when both import already.
#
#   bash scripts/python-trainer.sh check     # prints the versions; exit 1 when something is missing
#   bash scripts/python-trainer.sh install   # apt-get install what is missing (as root)
set -euo pipefail

PYTHON="${TRAINSET_PYTHON:-/usr/bin/python3}" # override only to test this script
PACKAGES=(python3-torch python3-numpy)

log() { printf '[python-trainer] %s\n' "$*" >&2; }
die() {
  printf '[python-trainer] ERROR: %s\n' "$*" >&2
  exit 1
}
is_root() { [[ "$(id -u)" == "0" ]]; }

# Version of a module under /usr/bin/python3, or nothing (and status 1) when it does not import.
module_version() {
  [[ -x "$PYTHON" ]] || return 1
  "$PYTHON" -c "import $1; print($1.__version__)" 2>/dev/null
}

cmd_check() {
  local failed=0 v
  if [[ -x "$PYTHON" ]]; then
    echo "python: $("$PYTHON" --version 2>&1) at $PYTHON"
  else
    echo "python: MISSING ($PYTHON; run: bash scripts/python-trainer.sh install)"
    return 1
  fi
  for module in torch numpy; do
    if v="$(module_version "$module")"; then
      echo "$module: $v"
    else
      echo "$module: MISSING (run: bash scripts/python-trainer.sh install)"
      failed=1
    fi
  done
  return "$failed"
}

cmd_install() {
  local missing=() start versions
  # One interpreter start when all is present (importing torch takes seconds).
  if versions="$(module_version torch)" && versions+=", numpy $(module_version numpy)"; then
    log "present under $PYTHON: torch $versions"
    return 0
  fi
  [[ -x "$PYTHON" ]] || missing+=(python3)
  module_version torch >/dev/null || missing+=(python3-torch)
  module_version numpy >/dev/null || missing+=(python3-numpy)
  is_root || die "missing ${missing[*]}; installing needs root: run 'sudo apt-get install -y ${PACKAGES[*]}' (or this script as root)"
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and apt-get is not here: install ${PACKAGES[*]} (Debian/Ubuntu) by other means"
  start=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  log "installing ${PACKAGES[*]} (missing: ${missing[*]})"
  if ! apt-get install -y --no-install-recommends "${PACKAGES[@]}" >&2; then
    # The package lists may be stale or absent (fresh container): refresh them once, then retry.
    log "apt-get install failed; running apt-get update and retrying"
    apt-get update >&2 || die "apt-get update failed (see above): the package mirror must be reachable"
    apt-get install -y --no-install-recommends "${PACKAGES[@]}" >&2 || die "apt-get install ${PACKAGES[*]} failed (see above)"
  fi
  cmd_check >&2 || die "installed ${PACKAGES[*]}, but $PYTHON still cannot import torch and numpy"
  log "installed in $((SECONDS - start))s"
}

case "${1:-}" in
  check) cmd_check ;;
  install) cmd_install ;;
  *)
    echo "usage: bash scripts/python-trainer.sh check|install" >&2
    exit 2
    ;;
esac
