/** The builtin trainer's view of a job: its hyperparameters in job.json and the metrics file it writes. */
import { z } from 'zod';

/**
 * The builtin trainer's keys in job.json's `hyperparameters` (writeJobDir puts the spec's kind, learningRate and
 * l2 there; `batchSize` may come from the spec's own `trainer.hyperparameters`). Other keys are ignored.
 */
export const BuiltinHyperparametersSchema = z.object({
  kind: z.literal('logreg-hashed'),
  learningRate: z.number().positive(),
  l2: z.number().min(0),
  batchSize: z.number().int().min(1).optional(),
});

/** Validated builtin hyperparameters. */
export type BuiltinHyperparameters = z.infer<typeof BuiltinHyperparametersSchema>;

/** Validate job.json's hyperparameters for the builtin trainer; throws an Error listing every problem with its path. */
export function parseBuiltinHyperparameters(raw: unknown): BuiltinHyperparameters {
  const r = BuiltinHyperparametersSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `hyperparameters.${i.path.join('.')}: ${i.message}`);
    throw new Error(`job.json is not a builtin (logreg-hashed) job: ${lines.join('; ')}`);
  }
  return r.data;
}

/** Train and validation metrics the builtin trainer writes to `out/metrics.json` (of the float32 model as exported). */
export interface TrainingMetrics {
  train: { accuracy: number; macroF1: number; n: number };
  validation: {
    accuracy: number;
    macroF1: number;
    n: number;
    perClass: Record<string, { precision: number; recall: number; f1: number; support: number }>;
  };
  /** Epochs completed in total (those before a resume included). */
  epochs: number;
  /** Mean training cross-entropy of the last epoch run; null when a resumed run had no epoch left. */
  loss: number | null;
  shuffledLabels: boolean;
}
