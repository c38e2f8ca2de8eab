/** Per-process test setup: keep the Temporal runtime's chatter (and the warnings that tests provoke on purpose) out of the output. */
import { DefaultLogger, Runtime } from '@temporalio/worker';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
try {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
} catch {
  // Already installed in this process (vitest may reuse a fork between files).
}
