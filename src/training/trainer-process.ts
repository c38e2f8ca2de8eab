/**
 * Child-process entry of the reference trainer: `node --import tsx src/training/trainer-process.ts <jobDir>`
 * (or `node dist/src/training/trainer-process.js <jobDir>` when compiled).
 * stdout: one JSON line per epoch `{"type":"progress",...}`, then `{"type":"done"}`.
 * Exit codes: 0 done, 2 bad job input (retrying will not help), 1 anything else.
 */
import { runTrainingJob, TrainingInputError } from './run-job';

function main(argv: string[]): number {
  const jobDir = argv[2];
  if (!jobDir) {
    process.stderr.write('usage: trainer-process <jobDir>\n');
    return 2;
  }
  try {
    runTrainingJob(jobDir, {
      onProgress: (p) => process.stdout.write(`${JSON.stringify({ type: 'progress', ...p })}\n`),
    });
    process.stdout.write(`${JSON.stringify({ type: 'done' })}\n`);
    return 0;
  } catch (err) {
    // Only our own messages (line numbers, file names, counts) reach stderr, never record content.
    const message = err instanceof Error ? err.message : 'unknown error';
    process.stderr.write(`trainer failed: ${message}\n`);
    return err instanceof TrainingInputError ? 2 : 1;
  }
}

process.exitCode = main(process.argv);
