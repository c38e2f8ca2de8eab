#!/usr/bin/env bash
# GPU check of the PyTorch reference trainer (trainers/pytorch/train.py) through the trainer contract.
#
#   bash scripts/gpu-check.sh prepare <dir> [records]   # needs Node (this repo's node_modules): writes a job directory
#   bash scripts/gpu-check.sh run <dir>                 # needs only Python with torch and numpy (no Node)
#
# `prepare` writes a contract job directory from generated sample tickets (the tickets spec, 4096 features,
# 5 epochs; default 5000 records). `run` copies it twice, trains once with CUDA_VISIBLE_DEVICES=0 and once with
# CUDA_VISIBLE_DEVICES= (CPU), and prints one summary line: whether CUDA was used, seconds per epoch on GPU and CPU,
# and their ratio. Where CUDA is not available it says so, still prints the CPU figure and exits 3 (0 when CUDA
# was used; 1 when a run failed). Prepare the directory where Node is, carry it to the accelerator machine, run it
# there. The Python is TRAINSET_PYTHON, else /usr/bin/python3, else the python3 on PATH (whichever imports torch).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${TRAINSET_PYTHON:-/usr/bin/python3}"
TRAIN_PY="$REPO_ROOT/trainers/pytorch/train.py"

log() { printf '[gpu-check] %s\n' "$*" >&2; }
die() {
  printf '[gpu-check] ERROR: %s\n' "$*" >&2
  exit 1
}
usage() {
  echo "usage: bash scripts/gpu-check.sh prepare <dir> [records] | run <dir>" >&2
  exit 2
}

cmd_prepare() {
  local dir="${1:-}" records="${2:-5000}"
  [[ -n "$dir" ]] || usage
  [[ "$records" =~ ^[0-9]+$ && "$records" -ge 50 ]] || die "records must be an integer >= 50 (got '$records')"
  command -v node >/dev/null 2>&1 || die "prepare needs Node (it featurizes with trainset's own code); run it where the repo is built, then carry <dir>"
  [[ -x "$REPO_ROOT/node_modules/.bin/tsx" ]] || die "tsx is missing: run 'npm ci' in $REPO_ROOT first"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  log "writing a job directory of $records sample tickets to $dir"
  (cd "$REPO_ROOT" && GPU_CHECK_DIR="$dir" GPU_CHECK_RECORDS="$records" "$REPO_ROOT/node_modules/.bin/tsx" -e "
    import * as path from 'node:path';
    import { createDirSpecSource } from './src/datasets/spec-source';
    import { generateTicketLines } from './src/samples/tickets/generate';
    import { writeJobDir } from './src/training/job-dir';
    async function main(): Promise<void> {
      const dir = process.env.GPU_CHECK_DIR as string;
      const count = Number(process.env.GPU_CHECK_RECORDS);
      const loaded = await createDirSpecSource(path.resolve('specs')).load('tickets');
      // The process backend: job.json's hyperparameters are the spec's own, without the builtin's learningRate.
      const trainer = { ...loaded.spec.trainer, backend: 'process' as const, command: ['/usr/bin/python3', 'trainers/pytorch/train.py'],
        features: 4096, epochs: 5, gpus: 1, hyperparameters: {} };
      const spec = { ...loaded.spec, trainer };
      const rows = generateTicketLines({ date: '2024-03-01', count, seed: 11, badLineFraction: 0, duplicateFraction: 0 })
        .map((g) => ({ ...(JSON.parse(g.line) as Record<string, unknown>), queue: g.trueQueue }));
      const nTest = Math.floor(rows.length * 0.2);
      const nVal = Math.floor(rows.length * 0.1);
      const train = rows.slice(0, rows.length - nVal - nTest);
      const validation = rows.slice(train.length, train.length + nVal);
      const test = rows.slice(train.length + nVal);
      const r = await writeJobDir(dir, {
        jobKey: 'gpu-check/tickets', model: 'tickets-pytorch', datasetVersion: 'gpu-check', spec,
        splits: { train, validation, test }, shuffleLabels: false, gpus: 1, resumeFrom: null,
      });
      console.log('rows ' + JSON.stringify(r.rows));
    }
    main().catch((err) => { console.error(err); process.exit(1); });
  ") >&2
  log "prepared $dir (carry it to the GPU machine, then: bash scripts/gpu-check.sh run <dir>)"
}

# Device, seconds per epoch and device name from a finished run's out/metrics.json: "<device> <s/epoch> <name>".
read_metrics() {
  "$PYTHON" - "$1/out/metrics.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print(m.get("device"), m.get("secondsPerEpoch"), str(m.get("deviceName", "?")).replace(" ", "_"))
PY
}

# Train a fresh copy of the prepared directory with the given CUDA_VISIBLE_DEVICES; prints read_metrics' line.
train_copy() {
  local src="$1" dst="$2" cuda="$3" rc=0
  rm -rf "$dst"
  mkdir -p "$dst"
  cp -r "$src"/. "$dst"/
  rm -rf "$dst/out" "$dst/checkpoints" "$dst/resume"
  log "training with CUDA_VISIBLE_DEVICES='$cuda' in $dst"
  (cd "$dst" && CUDA_VISIBLE_DEVICES="$cuda" PYTHONUNBUFFERED=1 "$PYTHON" "$TRAIN_PY" "$dst" >"$dst/stdout.log" 2>"$dst/stderr.log") || rc=$?
  grep -v '^{' "$dst/stdout.log" | sed 's/^/[trainer] /' >&2 || true
  if [[ "$rc" -ne 0 ]]; then
    tail -n 20 "$dst/stderr.log" >&2
    die "the trainer exited with $rc (CUDA_VISIBLE_DEVICES='$cuda'); logs in $dst"
  fi
  read_metrics "$dst"
}

cmd_run() {
  local dir="${1:-}" work gpu_device gpu_s gpu_name cpu_device cpu_s cpu_name cuda_line epochs
  [[ -n "$dir" ]] || usage
  [[ -f "$dir/job.json" ]] || die "$dir/job.json is missing: prepare the directory first (bash scripts/gpu-check.sh prepare $dir)"
  # The accelerator machine's Python with torch need not be Debian's: without TRAINSET_PYTHON, fall back to PATH's.
  if [[ -z "${TRAINSET_PYTHON:-}" ]] && ! "$PYTHON" -c 'import torch, numpy' 2>/dev/null && command -v python3 >/dev/null 2>&1; then
    PYTHON="$(command -v python3)"
  fi
  "$PYTHON" -c 'import torch, numpy' 2>/dev/null || die "$PYTHON cannot import torch and numpy (set TRAINSET_PYTHON to a Python that can)"
  log "python: $PYTHON"
  dir="$(cd "$dir" && pwd)"
  work="$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")"
  cuda_line="$("$PYTHON" -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available(), torch.cuda.device_count())')"
  log "torch version, CUDA build, cuda.is_available, device count: $cuda_line"

  epochs="$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["epochs"])' "$dir/job.json")"
  read -r gpu_device gpu_s gpu_name <<<"$(train_copy "$dir" "$work/gpu" 0)"
  read -r cpu_device cpu_s cpu_name <<<"$(train_copy "$dir" "$work/cpu" '')"
  [[ "$cpu_device" == "cpu" ]] || die "the CPU run reported device '$cpu_device'"

  "$PYTHON" - "$gpu_device" "$gpu_s" "$cpu_s" "$gpu_name" "$epochs" <<'PY'
import sys
gpu_device, gpu_s, cpu_s, gpu_name, epochs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
if gpu_device == "cuda":
    print(f"gpu-check: CUDA used: yes ({gpu_name.replace('_', ' ')}); {epochs} epochs each; seconds per epoch: "
          f"GPU {gpu_s:.3f}, CPU {cpu_s:.3f}; CPU/GPU ratio {cpu_s / gpu_s:.2f}x")
else:
    print(f"gpu-check: CUDA used: no (CUDA is not available to torch here; the CUDA_VISIBLE_DEVICES=0 run trained on the CPU); "
          f"{epochs} epochs each; seconds per epoch: CPU {cpu_s:.3f} (CUDA_VISIBLE_DEVICES=0 run: {gpu_s:.3f} on the CPU); "
          f"no GPU figure")
PY
  rm -rf "$work"
  # The check did not happen: a script running it must not mistake a CPU fallback for a pass.
  [[ "$gpu_device" == "cuda" ]] || exit 3
}

case "${1:-}" in
  prepare) cmd_prepare "${2:-}" "${3:-}" ;;
  run) cmd_run "${2:-}" ;;
  *) usage ;;
esac
