import { z } from 'zod';

/** Files of a training job directory. */
export const JobFiles = {
  job: 'job.json',
  train: 'train.jsonl',
  validation: 'validation.jsonl',
  checkpoint: 'checkpoint.json',
  model: 'model.json',
  metrics: 'metrics.json',
} as const;

/** Trainer hyper-parameters, the same shape as DatasetSpec['trainer'] (plus an optional batch size). */
export const TrainerConfigSchema = z.object({
  kind: z.literal('logreg-hashed'),
  features: z.number().int().min(1),
  epochs: z.number().int().min(1),
  learningRate: z.number().positive(),
  l2: z.number().min(0),
  seed: z.number().int(),
  batchSize: z.number().int().min(1).optional(),
});

/** Schema of `job.json`: what to train, on which fields. */
export const TrainingJobSchema = z.object({
  config: TrainerConfigSchema,
  labelField: z.string().min(1),
  textFields: z.array(z.string()),
  categoricalFields: z.array(z.string()).default([]),
  classes: z.array(z.string()).min(2),
  /** The "bad model" switch: training labels are permuted with the seed, so the model learns noise. */
  shuffleLabels: z.boolean().default(false),
  datasetVersion: z.string().min(1),
});

/** A training job as written to `job.json`. */
export type TrainingJob = z.input<typeof TrainingJobSchema>;
/** A training job after validation (defaults applied). */
export type ParsedTrainingJob = z.infer<typeof TrainingJobSchema>;

/** Validate a job; throws an Error listing every problem with its path. */
export function parseTrainingJob(raw: unknown): ParsedTrainingJob {
  const r = TrainingJobSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`Invalid ${JobFiles.job}: ${lines.join('; ')}`);
  }
  if (new Set(r.data.classes).size !== r.data.classes.length) throw new Error(`Invalid ${JobFiles.job}: classes contain duplicates`);
  return r.data;
}

/** One progress line printed by the trainer process after each epoch. */
export interface TrainingProgress {
  epoch: number;
  epochs: number;
  loss: number;
  /** Accuracy on the validation file, or null when it is empty. */
  valAccuracy: number | null;
}

/** Train and validation metrics written to `metrics.json`. */
export interface TrainingMetrics {
  train: { accuracy: number; macroF1: number; n: number };
  validation: {
    accuracy: number;
    macroF1: number;
    n: number;
    perClass: Record<string, { precision: number; recall: number; f1: number; support: number }>;
  };
  epochs: number;
  loss: number | null;
  shuffledLabels: boolean;
}
