/**
 * CPU time of this process and of the dev server it started, from /proc (Linux), so a benchmark can say whether
 * it was bound by CPU. Elsewhere the figures are undefined and the benchmarks print "n/a".
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return clockTicks;
}

/** utime + stime of a process, ms; undefined if it is gone. */
function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may contain spaces): state is field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond();
  } catch {
    return undefined;
  }
}

/** Descendants of this process whose command line contains `needle` (e.g. the `temporal server start-dev` child). */
export function descendantPids(needle: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  const parentOf = new Map<number, number>();
  for (const e of entries) {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      parentOf.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const isDescendant = (pid: number): boolean => {
    for (let p = parentOf.get(pid); p !== undefined && p > 0; p = parentOf.get(p)) {
      if (p === process.pid) return true;
      if (p === 1) break;
    }
    return false;
  };
  return [...parentOf.keys()].filter((pid) => {
    if (!isDescendant(pid)) return false;
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(needle);
    } catch {
      return false;
    }
  });
}

/** CPU ms used by this process (all threads) and by the given other processes since the returned snapshot. */
export function cpuMeter(otherPids: number[]): () => { selfMs: number; othersMs: number | undefined } {
  const self0 = process.cpuUsage();
  const others0 = otherPids.map(processCpuMs);
  return () => {
    const self = process.cpuUsage(self0);
    const others = otherPids.map((pid, i) => {
      const now = processCpuMs(pid);
      const before = others0[i];
      return now === undefined || before === undefined ? undefined : now - before;
    });
    const known = others.length > 0 && others.every((o) => o !== undefined);
    return {
      selfMs: (self.user + self.system) / 1000,
      othersMs: known ? others.reduce<number>((a, b) => a + (b ?? 0), 0) : undefined,
    };
  };
}
