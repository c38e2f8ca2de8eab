/** `trainset codec-server`: decodes encrypted payloads for the Temporal UI and `temporal --codec-endpoint`. */
import { InvalidArgumentError, type Command } from '@commander-js/extra-typings';
import { AesGcmPayloadCodec } from '../security/codec';
import { createCodecServer } from '../security/codec-server';
import { createLogger } from '../workers/logger';
import { portArg } from './args';
import { resolveConfig } from './context';

function originArg(value: string, previous: string[] = []): string[] {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected an origin such as http://localhost:8233');
  }
  return [...previous, url.origin];
}

/** Registers `trainset codec-server`. */
export function registerCodecServerCommand(program: Command): void {
  program
    .command('codec-server')
    .description('Serve POST /encode and /decode (Temporal codec server protocol) with the payload codec keys, for the Temporal UI and CLI')
    .option('--port <port>', 'listen port', portArg, 8081)
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--cors-origin <origin>', "browser origin allowed to call (the Temporal UI's); repeatable", originArg)
    .action(async (opts) => {
      const config = resolveConfig();
      if (!config.codecKeys)
        throw new Error('codec-server: no codec keys configured (set TRAINSET_CODEC_KEYS_FILE or TRAINSET_CODEC_KEYS)');
      if (!config.codecServerToken)
        throw new Error('codec-server: TRAINSET_CODEC_SERVER_TOKEN is required (callers send Authorization: Bearer <token>)');
      const logger = createLogger(config.logLevel, 'trainset-codec-server');
      const server = createCodecServer({
        codec: new AesGcmPayloadCodec(config.codecKeys),
        token: config.codecServerToken,
        corsOrigins: opts.corsOrigin ?? ['http://localhost:8233'],
      });
      const url = await server.start(opts.port, opts.host);
      // Key ids only: the keyring never prints its keys.
      logger.info({ url, keys: config.codecKeys, corsOrigins: opts.corsOrigin ?? ['http://localhost:8233'] }, 'codec server listening');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.stop();
    });
}
