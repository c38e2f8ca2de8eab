/** Whether Debian's Python with torch and numpy (the PyTorch reference trainer's runtime) is on this machine. */
import { execFileSync } from 'node:child_process';

let cached: boolean | undefined;

/** True when /usr/bin/python3 imports torch and numpy. */
export function torchAvailable(): boolean {
  if (cached === undefined) {
    try {
      execFileSync('/usr/bin/python3', ['-c', 'import torch, numpy'], { stdio: 'ignore', timeout: 60_000 });
      cached = true;
    } catch {
      cached = false;
    }
  }
  return cached;
}

/**
 * Fail (in CI, where .ci/run installs it) or explain (elsewhere) when torch is missing. Returns false when the
 * caller should skip: outside CI only, with the reason printed.
 */
export function requirePythonTorch(): boolean {
  if (torchAvailable()) return true;
  const why = 'Debian python3-torch is missing: run `bash scripts/python-trainer.sh install`';
  if (process.env.CI) throw new Error(`${why} (CI installs it in .ci/run)`);
  console.warn(`skipping: ${why}`);
  return false;
}
