/** What CLI commands connect to: production settings from the environment, or the running `trainset up` stack. */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporalConnectionOptions, trainsetDataConverter } from '../security/temporal-options';
import { loadConfig, type Config } from '../workers/config';

/** Written by `trainset up` so other commands (and `down`) find the embedded stack. */
export interface StackFile {
  pid: number;
  temporalAddress: string;
  uiUrl?: string;
  databaseUrl: string;
  gatewayUrl: string;
  startedAt: string;
}

/** Path of the stack file under TRAINSET_HOME. */
export const stackFilePath = (config: Config): string => path.join(config.home, 'stack.json');

/** The running embedded stack, if its process is alive. */
export function readStackFile(config: Config): StackFile | undefined {
  const file = stackFilePath(config);
  if (!existsSync(file)) return undefined;
  let s: StackFile;
  try {
    s = JSON.parse(readFileSync(file, 'utf8')) as StackFile;
  } catch {
    return undefined; // half-written or damaged: no stack we can talk to
  }
  return Number.isInteger(s.pid) && s.pid > 0 && isStackProcess(s.pid) ? s : undefined;
}

/**
 * True when pid is alive and runs `trainset up --foreground`. The pid of a stale stack file (the stack was
 * killed hard) may belong to another program by now, which `down` must not signal.
 */
function isStackProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return true; // no procfs (macOS): liveness has to do
  }
  const args = cmdline.split('\0');
  return args.includes('up') && args.includes('--foreground');
}

/** Config with the embedded stack's addresses filled in when `trainset up` is running. */
export function resolveConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const config = loadConfig(env);
  if (config.mode === 'production') return config;
  const stack = readStackFile(config);
  if (!stack) return config;
  return {
    ...config,
    temporal: { ...config.temporal, address: env.TEMPORAL_ADDRESS || stack.temporalAddress },
    databaseUrl: stack.databaseUrl,
    gateway: { ...config.gateway, url: stack.gatewayUrl },
  };
}

/** A Temporal client for the configured address; the error says how to start a server when none answers. */
export async function connectClient(config: Config): Promise<{ client: Client; close(): Promise<void> }> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...temporalConnectionOptions(config.temporal), connectTimeout: '5 seconds' });
  } catch (err) {
    throw new Error(
      `Cannot reach Temporal at ${config.temporal.address} (${err instanceof Error ? err.message : String(err)}). ` +
        'Start the embedded stack with `npx trainset up`, or set TEMPORAL_ADDRESS to your cluster.',
    );
  }
  // Every client encrypts what it sends and decrypts what it reads when codec keys are configured.
  const dataConverter = trainsetDataConverter(config.codecKeys);
  return { client: new Client({ connection, namespace: config.temporal.namespace, dataConverter }), close: () => connection.close() };
}
