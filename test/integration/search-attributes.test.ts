/**
 * Custom search attributes: registered where dev servers start, set from the client at start, and found by the
 * stock `temporal workflow list --query`; scripts/search-attributes.sh registers the same list on a cluster.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { TypedSearchAttributes } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLI_SEARCH_ATTRIBUTE_TYPE,
  DatasetSearchAttribute,
  LogicalDateSearchAttribute,
  StageSearchAttribute,
  TRAINSET_SEARCH_ATTRIBUTES,
} from '../../src/shared/search-attributes';
import { serviceEnv } from '../helpers/services';
import { temporalCliOk } from '../helpers/temporal-cli';

const script = path.resolve(__dirname, '../../scripts/search-attributes.sh');
const run = promisify(execFile);
let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: serviceEnv().temporalCliPath },
      log: { format: 'json', level: 'error' },
      searchAttributes: [...TRAINSET_SEARCH_ATTRIBUTES],
    },
  });
}, 120_000);

afterAll(async () => {
  await env?.teardown();
});

/** Workflow ids the CLI lists for a visibility query (polled: visibility catches up shortly after a start). */
async function listIds(query: string, expected: number, namespace = 'default'): Promise<string[]> {
  let ids: string[] = [];
  for (let i = 0; i < 50; i++) {
    const out = await temporalCliOk(env.address, ['workflow', 'list', '--namespace', namespace, '--query', query, '-o', 'json']);
    ids = out.trim() ? (JSON.parse(out) as Array<{ execution: { workflowId: string } }>).map((w) => w.execution.workflowId) : [];
    if (ids.length >= expected) return ids;
    await new Promise((r) => setTimeout(r, 200));
  }
  return ids;
}

describe('search attributes', () => {
  it('finds a run by Dataset, Stage and LogicalDate with the stock temporal CLI', async () => {
    const taskQueue = `sa-${randomUUID()}`; // no worker: the runs stay open, which is all visibility needs
    const start = (dataset: string, date: string, stage: string) =>
      env.client.workflow.start('retrainPipelineWorkflow', {
        taskQueue,
        workflowId: `retrain-${dataset}-${date}-${randomUUID().slice(0, 8)}`,
        args: [{ dataset, logicalDate: date }],
        typedSearchAttributes: new TypedSearchAttributes([
          { key: DatasetSearchAttribute, value: dataset },
          { key: LogicalDateSearchAttribute, value: date },
          { key: StageSearchAttribute, value: stage },
        ]),
      });
    const tickets = await start('tickets', '2026-11-03', 'canary');
    await start('tickets', '2026-10-01', 'ingest');
    await start('reviews', '2026-11-03', 'canary');

    expect(await listIds(`Dataset="tickets" AND Stage="canary" AND TaskQueue="${taskQueue}"`, 1)).toEqual([tickets.workflowId]);
    expect(await listIds(`Dataset="tickets" AND TaskQueue="${taskQueue}"`, 2)).toHaveLength(2);
    // Keyword dates in YYYY-MM-DD compare as dates: a backfill's range is one query.
    expect(await listIds(`LogicalDate >= "2026-11-01" AND LogicalDate <= "2026-11-30" AND TaskQueue="${taskQueue}"`, 2)).toHaveLength(2);
  });

  it('scripts/search-attributes.sh lists exactly the attributes of src/shared/search-attributes.ts', async () => {
    const { stdout } = await run('bash', [script, '--dry-run', '--address', 'temporal:7233', '--namespace', 'prod']);
    const pairs = [...stdout.matchAll(/--name (\S+) --type (\S+)/g)].map((m) => `${m[1]}=${m[2]}`);
    expect(pairs).toEqual(TRAINSET_SEARCH_ATTRIBUTES.map((k) => `${k.name}=${CLI_SEARCH_ATTRIBUTE_TYPE[k.type]}`));
    expect(stdout).toContain('temporal operator search-attribute create --address temporal:7233 --namespace prod');
  });

  it('scripts/search-attributes.sh registers them on another namespace, and a second run changes nothing', async () => {
    const namespace = `ops-${randomUUID().slice(0, 8)}`;
    await temporalCliOk(env.address, ['operator', 'namespace', 'create', '--namespace', namespace]);
    const sh = (): Promise<{ stdout: string }> =>
      run('bash', [script, '--address', env.address, '--namespace', namespace], {
        env: { ...process.env, TEMPORAL_CLI: serviceEnv().temporalCliPath },
        timeout: 60_000,
      });
    const first = await sh();
    expect(first.stdout).toContain('Dataset: registered as Keyword');
    const second = await sh();
    expect(second.stdout.match(/already registered/g)).toHaveLength(TRAINSET_SEARCH_ATTRIBUTES.length);
    const listed = await temporalCliOk(env.address, ['operator', 'search-attribute', 'list', '--namespace', namespace]);
    for (const k of TRAINSET_SEARCH_ATTRIBUTES) expect(listed).toMatch(new RegExp(`\\b${k.name}\\s+Keyword\\b`));
  });
});
