import { spawnSync } from 'node:child_process';
import { Command, CommanderError } from '@commander-js/extra-typings';
import { afterEach, describe, expect, it } from 'vitest';
import { registerGatewayTokenCommand, type GatewayTokenIo } from '../../src/cli/gateway-token-command';
import { createGatewayAuthenticator, parseGatewayTokens, type GatewayRole } from '../../src/serving/auth';
import { createGateway, type Gateway } from '../../src/serving/gateway';
import { TRAINSET_BIN } from '../helpers/trainset-cli';
import { FakeLoader, FakeRouting, MemoryLog, routingState } from './serving-fakes';

/** What one in-process run of `trainset gateway hash-token` printed, and the usage error it raised, if any. */
interface Run {
  out: string;
  err: string;
  error?: CommanderError;
}

async function hashToken(args: string[], stdin = ''): Promise<Run> {
  const run: Run = { out: '', err: '' };
  const io: GatewayTokenIo = {
    readStdin: () => Promise.resolve(stdin),
    out: (t) => void (run.out += t),
    err: (t) => void (run.err += t),
    stdinIsTty: false,
  };
  const program = new Command()
    .exitOverride()
    .configureOutput({ writeOut: (t) => void (run.out += t), writeErr: (t) => void (run.err += t) });
  registerGatewayTokenCommand(program, io);
  try {
    await program.parseAsync(['gateway', 'hash-token', ...args], { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    run.error = err;
  }
  return run;
}

const started: Gateway[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((gw) => gw.stop()));
});

describe('trainset gateway hash-token', () => {
  it.each(['predict', 'feedback', 'admin'] as GatewayRole[])(
    'prints a line the gateway accepts: the token on stdin authenticates with role %s',
    async (role) => {
      const token = `token-for-${role}-0123456789abcdef`;
      const run = await hashToken(['--name', 'web-app', '--role', role], `${token}\n`);
      expect(run.error).toBeUndefined();
      const lines = run.out.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^web-app:${role}:[0-9a-f]{64}$`));
      expect(run.out).not.toContain(token);
      const auth = createGatewayAuthenticator(parseGatewayTokens(run.out));
      expect(auth.authenticate(`Bearer ${token}`)).toEqual({ name: 'web-app', role });
      expect(auth.authenticate(`Bearer ${token}x`)).toBeUndefined();
    },
  );

  it("a gateway configured with the line serves the token's role and refuses the others (predict token)", async () => {
    const token = 'a-predict-token-0123456789abcdef';
    const run = await hashToken(['--name', 'web-app', '--role', 'predict'], token);
    const routing = new FakeRouting();
    routing.state = routingState({});
    const gw = createGateway({
      routing,
      log: new MemoryLog(),
      models: new FakeLoader(),
      defaultModel: 'm',
      flushMs: 10_000,
      tokens: parseGatewayTokens(run.out),
    });
    started.push(gw);
    await gw.refresh();
    const headers = { authorization: `Bearer ${token}` };
    const predict = await gw.app.inject({ method: 'POST', url: '/v1/predict', headers, payload: { input: { text: 'hi' } } });
    expect(predict.statusCode).toBe(200);
    expect((await gw.app.inject({ method: 'POST', url: '/v1/refresh', headers })).statusCode).toBe(403);
    expect((await gw.app.inject({ method: 'POST', url: '/v1/predict', payload: { input: { text: 'hi' } } })).statusCode).toBe(401);
  });

  it('--generate prints a fresh 32-byte token once, then its line', async () => {
    const a = await hashToken(['--name', 'labelers', '--role', 'feedback', '--generate']);
    const b = await hashToken(['--name', 'labelers', '--role', 'feedback', '--generate']);
    const [token, line, ...rest] = a.out.trimEnd().split('\n');
    expect(rest).toEqual([]);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token!, 'base64url')).toHaveLength(32);
    expect(b.out.split('\n')[0]).not.toBe(token);
    expect(a.err).not.toContain(token);
    expect(createGatewayAuthenticator(parseGatewayTokens(line!)).authenticate(`Bearer ${token}`)).toEqual({
      name: 'labelers',
      role: 'feedback',
    });
  });

  it.each([
    ['an empty token', ['--name', 'ci', '--role', 'admin'], ' \n', /the token is empty/],
    ['a token with a space', ['--name', 'ci', '--role', 'admin'], 'two words', /whitespace/],
    ['a role that does not exist', ['--name', 'ci', '--role', 'root'], 'tok', /Allowed choices are predict, feedback, admin/],
    ['no role', ['--name', 'ci'], 'tok', /required option '--role <role>'/],
    ['a name the tokens file refuses', ['--name', 'a:b', '--role', 'admin'], 'tok', /name must be 1-64 letters/],
    ['the reserved name', ['--name', 'anonymous', '--role', 'admin'], 'tok', /reserved/],
  ])('refuses %s with a usage error and prints no line', async (_what, args, stdin, message) => {
    const run = await hashToken(args, stdin);
    // A CommanderError: the command's main maps every one that is not --help or --version to exit code 2.
    expect(run.error).toBeInstanceOf(CommanderError);
    expect(run.error?.exitCode).not.toBe(0);
    expect(run.err).toMatch(message);
    expect(run.out).toBe('');
  });

  it('works as a command: stdin to the line (exit 0); an empty token or a bad role exits 2', () => {
    const env = { ...process.env, TRAINSET_FROM_SOURCE: '1' };
    const cli = (args: string[], input: string) =>
      spawnSync(process.execPath, [TRAINSET_BIN, 'gateway', 'hash-token', ...args], { input, env, encoding: 'utf8' });
    const ok = cli(['--name', 'ci', '--role', 'admin'], 'cli-token-0123456789');
    expect(ok.status, ok.stderr).toBe(0);
    const auth = createGatewayAuthenticator(parseGatewayTokens(ok.stdout));
    expect(auth.authenticate('Bearer cli-token-0123456789')).toEqual({ name: 'ci', role: 'admin' });
    const empty = cli(['--name', 'ci', '--role', 'admin'], '');
    expect(empty.status).toBe(2);
    expect(empty.stderr).toContain('the token is empty');
    expect(empty.stdout).toBe('');
    const badRole = cli(['--name', 'ci', '--role', 'root'], 'cli-token-0123456789');
    expect(badRole.status).toBe(2);
    expect(badRole.stderr).toContain('Allowed choices are predict, feedback, admin');
    expect(badRole.stdout).toBe('');
  }, 60_000);
});
