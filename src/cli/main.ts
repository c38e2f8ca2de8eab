/** The `trainset` command: thin wrappers over the Temporal client, the registry and the embedded stack. */
import { InvalidArgumentError } from '@commander-js/extra-typings';
import { ConfigError } from '../workers/config';
import { isLogicalDate } from '../shared/ids';
import { buildProgram } from './program';

// The AWS SDK warns on every client about Node 20 support; the pinned version supports it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Parse a YYYY-MM-DD option. */
export function dateArg(value: string): string {
  if (!isLogicalDate(value)) throw new InvalidArgumentError('expected a date as YYYY-MM-DD');
  return value;
}

const program = buildProgram();

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(err.message);
  else console.error(`trainset: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
