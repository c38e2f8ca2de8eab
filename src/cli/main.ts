/** The `trainset` command: thin wrappers over the Temporal client, the registry and the embedded stack. */
import { CommanderError } from '@commander-js/extra-typings';
import { ConfigError } from '../workers/config';
import { ExitCode } from './exit-codes';
import { buildProgram } from './program';

// The AWS SDK warns on every client about Node 20 support; the pinned version supports it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    // Commander has printed its message already (or the help, or the version, which exit 0).
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
      return;
    }
    if (err instanceof ConfigError) console.error(err.message);
    else console.error(`trainset: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = ExitCode.failure;
  });
