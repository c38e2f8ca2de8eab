/**
 * `trainset gateway hash-token`: the `name:role:sha256` line of TRAINSET_GATEWAY_TOKENS(_FILE) for a token read from
 * stdin, or for a fresh random one (`--generate`, printed once). The digest is the gateway's own (hashGatewayToken).
 */
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, Option, type Command } from '@commander-js/extra-typings';
import { GATEWAY_ROLES, hashGatewayToken, parseGatewayTokens, type GatewayRole } from '../serving/auth';
import { ExitCode } from './exit-codes';

/** Bytes of a generated token (printed base64url: 43 characters, nothing a header or shell would mangle). */
export const GENERATED_TOKEN_BYTES = 32;

/** Where the command reads the token and writes its lines (process stdin/stdout/stderr unless a test says otherwise). */
export interface GatewayTokenIo {
  /** All of stdin, as text. */
  readStdin(): Promise<string>;
  /** Standard output. */
  out(text: string): void;
  /** Standard error (hints, never a token). */
  err(text: string): void;
  /** Whether stdin is a terminal (then the command says it is waiting for the token). */
  stdinIsTty: boolean;
}

const processIo: GatewayTokenIo = {
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    return Buffer.concat(chunks).toString('utf8');
  },
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  get stdinIsTty() {
    return process.stdin.isTTY === true;
  },
};

/** A fresh random token of GENERATED_TOKEN_BYTES bytes, base64url. */
export function generateGatewayToken(): string {
  return randomBytes(GENERATED_TOKEN_BYTES).toString('base64url');
}

/**
 * The tokens-file line `name:role:sha256` of a token. Throws an Error saying what is wrong (never echoing the token)
 * when the token is empty or holds whitespace (the gateway reads `Bearer <token>` up to the first space), or when the
 * gateway's tokens parser refuses the name.
 */
export function gatewayTokenLine(name: string, role: GatewayRole, token: string): string {
  if (token === '') throw new Error('the token is empty: pipe it on stdin (printf %s "$TOKEN" | …) or pass --generate');
  if (/\s/.test(token)) throw new Error('the token holds whitespace, which an Authorization: Bearer header cannot carry');
  const line = `${name}:${role}:${hashGatewayToken(token)}`;
  try {
    parseGatewayTokens(line);
  } catch (err) {
    // The parser names a line of a file; here the only thing that can be wrong is the name.
    const problem = /line 1: ([^\n]*)/.exec((err as Error).message)?.[1] ?? 'name must be 1-64 letters, digits, _ . -';
    throw new Error(`--name ${JSON.stringify(name)}: ${problem}`);
  }
  return line;
}

function nameArg(value: string): string {
  try {
    gatewayTokenLine(value, 'admin', 'x');
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message.replace(/^--name "[^]*?": /, ''));
  }
  return value;
}

/** Registers `trainset gateway hash-token`. */
export function registerGatewayTokenCommand(program: Command, io: GatewayTokenIo = processIo): void {
  const gateway = program.command('gateway').description('Serving gateway administration: tokens for TRAINSET_GATEWAY_TOKENS(_FILE)');
  gateway
    .command('hash-token')
    .description(
      'Print the name:role:sha256 line of TRAINSET_GATEWAY_TOKENS(_FILE) for the token on stdin, or for a fresh one (--generate)',
    )
    .requiredOption('--name <name>', "the token's name: the source its feedback is tagged with (1-64 letters, digits, _ . -)", nameArg)
    .addOption(new Option('--role <role>', 'what the token may call').choices(GATEWAY_ROLES).makeOptionMandatory())
    .option('--generate', `generate a random ${GENERATED_TOKEN_BYTES}-byte token and print it (once) on the line before`)
    .action(async (opts, cmd) => {
      let token: string;
      if (opts.generate) {
        token = generateGatewayToken();
      } else {
        if (io.stdinIsTty) io.err('reading the token from stdin (end with Ctrl-D)\n');
        token = (await io.readStdin()).trim();
      }
      let line: string;
      try {
        line = gatewayTokenLine(opts.name, opts.role, token);
      } catch (err) {
        return cmd.error(`error: ${(err as Error).message}`, { exitCode: ExitCode.usage, code: 'trainset.gateway.token' });
      }
      if (opts.generate) {
        io.out(`${token}\n`);
        io.err('the first line is the token: hand it to the client now, it is not stored anywhere; the second goes in the tokens file\n');
      }
      io.out(`${line}\n`);
    });
}
