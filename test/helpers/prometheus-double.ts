/**
 * A test double of the Prometheus HTTP query API (no Prometheus binary is available here). It scrapes a real
 * target's `/metrics` text on every query and evaluates the two PromQL shapes the canary source sends —
 * `sum by (arm) (increase(m{…}[Ns]))` and `histogram_quantile(q, sum by (arm, le) (increase(m_bucket{…}[Ns])))` —
 * with `increase` taken since the baseline scrape (`mark()`), the way Prometheus would over a window that starts there.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parse Prometheus text exposition format (samples only; comments skipped). */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function matchers(text: string): Array<(labels: Record<string, string>) => boolean> {
  return [...text.matchAll(/(\w+)(=~|=)"([^"]*)"/g)].map(([, k, op, v]) =>
    op === '=' ? (l) => l[k!] === v : (l) => new RegExp(`^(?:${v})$`).test(l[k!] ?? ''),
  );
}

const key = (s: Sample): string => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;

/** Prometheus's histogram_quantile over cumulative buckets [(le, count)], sorted by le. */
function quantile(q: number, buckets: Array<[number, number]>): number {
  buckets.sort((a, b) => a[0] - b[0]);
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / (count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

/** A running double: its URL, the queries it answered, and switches to fail. */
export interface PrometheusDouble {
  url: string;
  queries: string[];
  /** Take the baseline scrape: increase() is measured from here. */
  mark(): Promise<void>;
  /** Answer every query with this HTTP status and a Prometheus error body (undefined: answer normally). */
  failWith?: number;
  close(): Promise<void>;
}

/** Start a double over a scrape target (a function returning exposition text). */
export async function startPrometheusDouble(scrape: () => Promise<string>): Promise<PrometheusDouble> {
  let baseline = new Map<string, number>();
  const queries: string[] = [];
  const increaseOf = async (metric: string, sel: string): Promise<Sample[]> => {
    const preds = matchers(sel);
    const now = parseExposition(await scrape()).filter((s) => s.name === metric && preds.every((p) => p(s.labels)));
    return now.map((s) => ({ ...s, value: s.value - (baseline.get(key(s)) ?? 0) }));
  };
  const evaluate = async (q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
    const t = Date.now() / 1000;
    let m = /^sum by \(arm\) \(increase\(([\w:]+)\{(.*)\}\[\d+s\]\)\)$/.exec(q);
    if (m) {
      const sums = new Map<string, number>();
      for (const s of await increaseOf(m[1]!, m[2]!)) sums.set(s.labels.arm!, (sums.get(s.labels.arm!) ?? 0) + s.value);
      return [...sums].map(([arm, v]) => ({ metric: { arm }, value: [t, String(v)] }));
    }
    m = /^histogram_quantile\(([\d.]+), sum by \(arm, le\) \(increase\(([\w:]+)\{(.*)\}\[\d+s\]\)\)\)$/.exec(q);
    if (m) {
      const byArm = new Map<string, Map<number, number>>();
      for (const s of await increaseOf(m[2]!, m[3]!)) {
        const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
        const b = byArm.get(s.labels.arm!) ?? new Map<number, number>();
        b.set(le, (b.get(le) ?? 0) + s.value);
        byArm.set(s.labels.arm!, b);
      }
      return [...byArm].map(([arm, b]) => ({ metric: { arm }, value: [t, String(quantile(Number(m![1]), [...b]))] }));
    }
    throw new Error(`the double does not evaluate: ${q}`);
  };

  const double: PrometheusDouble = {
    url: '',
    queries,
    async mark() {
      baseline = new Map(parseExposition(await scrape()).map((s) => [key(s), s.value]));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname !== '/api/v1/query') return send(404, { status: 'error', errorType: 'not_found', error: 'no such endpoint' });
    if (double.failWith !== undefined)
      return send(double.failWith, { status: 'error', errorType: 'unavailable', error: 'down for the test' });
    const q = url.searchParams.get('query') ?? '';
    queries.push(q);
    evaluate(q).then(
      (result) => send(200, { status: 'success', data: { resultType: 'vector', result } }),
      (err: unknown) => send(400, { status: 'error', errorType: 'bad_data', error: String(err) }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  double.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return double;
}
