/** startDevServer: the embedded stack's Temporal dev server, run from the project's Temporal CLI without @temporalio/testing. */
import * as net from 'node:net';
import { Connection } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { TRAINSET_SEARCH_ATTRIBUTES } from '../../src/shared/search-attributes';
import { startDevServer } from '../../src/workers/temporal-binary';
import { serviceEnv } from '../helpers/services';

/** True while host:port accepts TCP connections. */
const accepts = (address: string): Promise<boolean> =>
  new Promise((resolve) => {
    const [host, port] = address.split(':');
    const s = net.connect({ host, port: Number(port) });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

describe('startDevServer', () => {
  it('starts a dev server on a free port with the custom search attributes registered, and stops it', async () => {
    const server = await startDevServer({ cliPath: serviceEnv().temporalCliPath });
    try {
      expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
      const connection = await Connection.connect({ address: server.address });
      try {
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
        for (const a of TRAINSET_SEARCH_ATTRIBUTES) expect(Object.keys(customAttributes ?? {})).toContain(a.name);
      } finally {
        await connection.close();
      }
    } finally {
      await server.stop();
    }
    expect(await accepts(server.address)).toBe(false);
  });

  it('fails with the server output when the binary exits before it is ready', async () => {
    await expect(startDevServer({ cliPath: '/bin/false', readyTimeoutMs: 5_000 })).rejects.toThrow(/exited \(1\) before it was ready/);
  });
});
