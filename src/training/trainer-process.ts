/**
 * Entry of the builtin trainer: `node --import tsx src/training/trainer-process.ts <jobDir>` (or
 * `node dist/src/training/trainer-process.js <jobDir>` when compiled), run by the builtin backend.
 * Speaks the trainer contract (contract.ts): JSON lines on stdout (progress and checkpoint per epoch, then done),
 * out/model.onnx and out/metrics.json in the job directory. Exit codes: 0 done, 2 bad input (job.json of another
 * contract version, malformed features, a checkpoint that does not fit), 1 anything else.
 */
import { EXIT_BAD_INPUT } from './contract';
import { runTrainingJob, TrainingInputError } from './run-job';

function main(argv: string[]): number {
  const jobDir = argv[2];
  if (!jobDir) {
    process.stderr.write('usage: trainer-process <jobDir>\n');
    return EXIT_BAD_INPUT;
  }
  try {
    // stdout to a pipe or file is synchronous on Linux, so a line is out before the next epoch starts.
    runTrainingJob(jobDir, { emit: (m) => process.stdout.write(`${JSON.stringify(m)}\n`) });
    return 0;
  } catch (err) {
    // Only our own messages (file names, row indices, counts) reach stderr, never record content.
    const message = err instanceof Error ? err.message : 'unknown error';
    process.stderr.write(`trainer failed: ${message}\n`);
    return err instanceof TrainingInputError ? EXIT_BAD_INPUT : 1;
  }
}

process.exitCode = main(process.argv);
