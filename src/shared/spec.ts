import { z } from 'zod';
import { CANARY_POLICY_DEFAULTS as D } from './canary-defaults';
import { DATASET_NAME } from './ids';
import { TrainerSpecSchema } from './trainer-spec';

/** Type of one field in a dataset's record contract. */
export const FieldTypeSchema = z.enum(['string', 'integer', 'number', 'boolean', 'timestamp', 'enum', 'list', 'object']);

/** A field of the record contract as written in a spec (lists and objects nest further field specs). */
export interface FieldSpecInput {
  type: z.infer<typeof FieldTypeSchema>;
  required?: boolean;
  values?: string[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  items?: FieldSpecInput;
  fields?: Record<string, FieldSpecInput>;
}

/** A validated field of the record contract (defaults applied). */
export interface FieldSpec {
  type: z.infer<typeof FieldTypeSchema>;
  required: boolean;
  /** Allowed values for `enum` fields. */
  values?: string[];
  /** String length bounds (characters). */
  minLength?: number;
  maxLength?: number;
  /** Inclusive numeric range of integer and number fields. */
  minimum?: number;
  maximum?: number;
  /** Element type of a `list` field. */
  items?: FieldSpec;
  /** Nested fields of an `object` field. */
  fields?: Record<string, FieldSpec>;
}

/** One field of the record contract. */
export const FieldSpecSchema: z.ZodType<FieldSpec, FieldSpecInput> = z.lazy(() =>
  z
    .object({
      type: FieldTypeSchema,
      required: z.boolean().default(true),
      values: z.array(z.string()).optional(),
      minLength: z.number().int().min(0).optional(),
      maxLength: z.number().int().positive().optional(),
      minimum: z.number().optional(),
      maximum: z.number().optional(),
      items: FieldSpecSchema.optional(),
      fields: z.record(z.string(), FieldSpecSchema).optional(),
    })
    .refine((f) => f.type !== 'enum' || (f.values?.length ?? 0) > 0, { message: 'enum fields need a non-empty "values" list' })
    .refine((f) => f.type !== 'list' || f.items !== undefined, { message: 'list fields need an "items" field spec' })
    .refine((f) => f.minimum === undefined || f.maximum === undefined || f.minimum <= f.maximum, {
      message: 'minimum must not exceed maximum',
    }),
);

/** What to do with PII found in a field: `<TYPE>` placeholder, masked characters, a keyed HMAC token, drop the record, or fail the run. */
export const PiiActionSchema = z.enum(['redact', 'mask', 'tokenize', 'drop_record', 'fail']);

/** PII entity types the engine knows (Presidio names). */
export const PiiEntitySchema = z.enum(['EMAIL_ADDRESS', 'PHONE_NUMBER', 'CREDIT_CARD', 'US_SSN', 'IBAN_CODE', 'IP_ADDRESS', 'SECRET']);

/** A metric the validation gate can check. */
export const GateMetricSchema = z.enum(['accuracy', 'macroF1', 'rocAuc', 'ece', 'precision', 'recall', 'f1']);

/** What the monitor does about a lasting breach. */
const MonitorActionSchema = z.enum(['alert', 'retrain', 'rollback']);

const gateScope = {
  metric: GateMetricSchema,
  /** Class of a per-class metric (precision, recall, f1, rocAuc); absent: every class (rocAuc: the macro mean). */
  class: z.string().min(1).optional(),
  /** `field` (every value of a slice field from gates.slices) or `field=value`; absent: the whole test split. */
  slice: z
    .string()
    .regex(/^[^=]+(=.+)?$/, 'a slice field, or field=value')
    .optional(),
};
const perClassOnly = (r: { metric: string; class?: string }): boolean =>
  r.class === undefined || ['precision', 'recall', 'f1', 'rocAuc'].includes(r.metric);
const perClassMessage = { message: '"class" applies only to precision, recall, f1 and rocAuc' };

/**
 * The validation gate policy (the spec's `gates`; also the file `trainset gate recheck --policy` reads).
 * Only minAccuracy, minMacroF1 and maxRegression have defaults; every other rule is off unless written.
 */
export const GatesSchema = z
  .object({
    /** Lowest accuracy on the test split (absolute). */
    minAccuracy: z.number().min(0).max(1).default(0.6),
    /** Lowest macro-F1 on the test split (absolute). */
    minMacroF1: z.number().min(0).max(1).default(0.5),
    /** Largest allowed drop of accuracy and macro-F1 vs the champion on the same test split (absolute). */
    maxRegression: z.number().min(0).max(1).default(0.02),
    /** Fields that slice the test split (e.g. [channel]); slice rules name one of them. */
    slices: z.array(z.string().min(1)).optional(),
    /** Slices with fewer test records are reported, not gated (default 30). */
    minSliceSamples: z.number().int().min(1).optional(),
    /** Largest train − validation gap of accuracy and of macro-F1. */
    maxTrainValidationGap: z.number().min(0).max(1).optional(),
    /** First model (no champion): `absolute` = value thresholds only; `require-override` = also needs an override. */
    firstModel: z.enum(['absolute', 'require-override']).optional(),
    /** Value thresholds: absolute bounds on a metric, overall or per slice. */
    thresholds: z
      .array(
        z
          .object({ ...gateScope, min: z.number().optional(), max: z.number().optional() })
          .strict()
          .refine((t) => t.min !== undefined || t.max !== undefined, { message: 'a threshold needs "min" or "max"' })
          .refine(perClassOnly, perClassMessage),
      )
      .optional(),
    /** Change thresholds vs the champion; degradation follows the metric's direction (ece: lower is better). */
    changes: z
      .array(
        z
          .object({
            ...gateScope,
            maxDegradation: z.number().min(0).optional(),
            maxRelativeDegradation: z.number().min(0).optional(),
            minImprovement: z.number().optional(),
          })
          .strict()
          .refine((c) => c.maxDegradation !== undefined || c.maxRelativeDegradation !== undefined || c.minImprovement !== undefined, {
            message: 'a change rule needs "maxDegradation", "maxRelativeDegradation" or "minImprovement"',
          })
          .refine(perClassOnly, perClassMessage),
      )
      .optional(),
  })
  .strict()
  .superRefine((g, ctx) => {
    const sliced = new Set(g.slices ?? []);
    for (const kind of ['thresholds', 'changes'] as const) {
      (g[kind] ?? []).forEach((r, i) => {
        const field = r.slice?.split('=')[0];
        if (field !== undefined && !sliced.has(field)) {
          ctx.addIssue({ code: 'custom', path: [kind, i, 'slice'], message: `slice field "${field}" is not listed in gates.slices` });
        }
      });
    }
  });

/** The `labels.labelingFunction` of a spec that names none: records must carry their labels. */
export const NO_LABELING_FUNCTION = 'none';

/** A dataset spec: the one file that declares a dataset's contract, policies and gates. */
export const DatasetSpecSchema = z.object({
  dataset: z.string().regex(DATASET_NAME, 'lowercase letters, digits, "-" or "_", starting with a letter'),
  /** Name of the model trained from the dataset (registry, routing, gateway URL); default `<dataset>-classifier`. */
  model: z
    .string()
    .regex(/^[a-z][a-z0-9_.-]{0,99}$/, 'lowercase letters, digits, ".", "-" or "_", starting with a letter')
    .optional(),
  description: z.string().optional(),
  schema: z.object({
    /** Field holding a stable record id. */
    idField: z.string(),
    /** Field holding the event time (ISO-8601), used for time-based splits. */
    timeField: z.string(),
    /** Field holding the class label; may be missing on unlabeled records. */
    labelField: z.string(),
    /** Text fields the model reads. */
    textFields: z.array(z.string()).min(1),
    /** Categorical fields the model reads. */
    categoricalFields: z.array(z.string()).default([]),
    fields: z.record(z.string(), FieldSpecSchema),
    /** What happens to fields not declared above. */
    unknownFields: z.enum(['keep', 'drop', 'reject']).default('drop'),
  }),
  labels: z.object({
    classes: z.array(z.string()).min(2),
    /** Who labels records that arrive without a label. */
    labeler: z.enum(['programmatic', 'human']).default('programmatic'),
    /**
     * Name of the programmatic labeling function (see src/labeling/labelers.ts). `none` (the default): the records carry
     * their labels, and a partition with unlabeled records fails the run with InvalidSpec instead of being labeled by
     * a function written for another dataset.
     */
    labelingFunction: z.string().min(1).default(NO_LABELING_FUNCTION),
    /** How long to wait for labels before applying the coverage policy. */
    deadlineSeconds: z.number().positive().default(3600),
    /** Minimum share of records that must carry a label at the deadline. */
    minCoverage: z.number().min(0).max(1).default(0.9),
  }),
  pii: z.object({
    entities: z
      .array(PiiEntitySchema)
      .default(['EMAIL_ADDRESS', 'PHONE_NUMBER', 'CREDIT_CARD', 'US_SSN', 'IBAN_CODE', 'IP_ADDRESS', 'SECRET']),
    /** Default action for every string field. */
    defaultAction: PiiActionSchema.default('redact'),
    /** Per-field override of the action (field path, dotted for nested values). */
    fields: z.record(z.string(), PiiActionSchema).default({}),
    /** Per-field values that are never treated as PII (e.g. a support mailbox). */
    allowList: z.record(z.string(), z.array(z.string())).default({}),
    /** A record whose scan takes longer is quarantined (fail closed), never passed through. */
    scanTimeoutMs: z.number().int().positive().default(1000),
  }),
  ingest: z.object({
    /** Input format; `auto` goes by file extension (.jsonl, .jsonl.gz, .csv, .csv.gz, .parquet). */
    format: z.enum(['auto', 'jsonl', 'csv', 'parquet']).default('auto'),
    /** Fail the run when more than this share of a partition is quarantined. */
    maxQuarantineRate: z.number().min(0).max(1).default(0.2),
    maxRecordBytes: z
      .number()
      .int()
      .positive()
      .default(1024 * 1024),
    /** Largest decompressed size of one compressed input file (a gzip bomb stops here with a clear error). */
    maxDecompressedBytes: z
      .number()
      .int()
      .positive()
      .default(8 * 1024 ** 3),
    /** Deepest nesting of objects and arrays a record may have. */
    maxDepth: z.number().int().min(1).max(1000).default(32),
  }),
  version: z.object({
    /** How many daily partitions (ending at the logical date) a dataset version spans. */
    windowDays: z.number().int().min(1).default(7),
    /** Target size of a stored chunk of rows (serialized bytes); boundaries are content-defined around it. */
    chunkBytes: z
      .number()
      .int()
      .min(4 * 1024)
      .max(64 * 1024 * 1024)
      .default(256 * 1024),
    /** Rewrite the base chunks once edited and deleted rows held aside exceed this share of the version's rows. */
    compactAt: z.number().min(0).max(1).default(0.05),
  }),
  split: z.object({
    validationFraction: z.number().min(0).max(0.5).default(0.1),
    testFraction: z.number().min(0.05).max(0.5).default(0.2),
    minTrainRows: z.number().int().min(1).default(50),
    /** Field naming the entity a record belongs to (a customer, a device); no entity may appear in two splits. */
    entityField: z.string().optional(),
  }),
  quality: z
    .object({
      /** Lowest share of records in which a field is present (non-empty), per field; required fields need 1. */
      minCompleteness: z.record(z.string(), z.number().min(0).max(1)).default({}),
      /** Drift limits against the previous version and a production sample; a value above its limit fails the run. */
      drift: z
        .object({
          /** Population stability index, numeric and categorical features. */
          psi: z.number().positive().default(0.25),
          /** Kolmogorov–Smirnov statistic (numeric features). */
          ks: z.number().positive().max(1).default(0.2),
          /** Jensen–Shannon divergence, base 2 (categorical features). */
          jensenShannon: z.number().positive().max(1).default(0.1),
          /** L-infinity distance of category frequencies (categorical features; what TFDV uses). */
          linf: z.number().positive().max(1).default(0.2),
          /** Label distribution drift (L-infinity) against the previous version. */
          labelLinf: z.number().positive().max(1).default(0.25),
          /** Fewest rows on each side for a drift figure to gate (smaller samples are recorded, not gated). */
          minRows: z.number().int().min(1).default(200),
          /** Per-feature overrides of the limits above. */
          features: z
            .record(
              z.string(),
              z.object({
                psi: z.number().positive().optional(),
                ks: z.number().positive().max(1).optional(),
                jensenShannon: z.number().positive().max(1).optional(),
                linf: z.number().positive().max(1).optional(),
                skip: z.boolean().optional(),
              }),
            )
            .default({}),
        })
        .default({ psi: 0.25, ks: 0.2, jensenShannon: 0.1, linf: 0.2, labelLinf: 0.25, minRows: 200, features: {} }),
      /** The production sample: the serving gateway's logged input profiles of the dataset's model. */
      production: z
        .object({
          /** Requests from this many days back. */
          windowDays: z.number().int().min(1).default(7),
          /** At most this many of the most recent ones. */
          sampleSize: z.number().int().min(1).max(1_000_000).default(5000),
        })
        .default({ windowDays: 7, sampleSize: 5000 }),
    })
    .default({
      minCompleteness: {},
      drift: { psi: 0.25, ks: 0.2, jensenShannon: 0.1, linf: 0.2, labelLinf: 0.25, minRows: 200, features: {} },
      production: { windowDays: 7, sampleSize: 5000 },
    }),
  trainer: TrainerSpecSchema.default(TrainerSpecSchema.parse({})),
  gates: GatesSchema,
  canary: z.object({
    /**
     * Weight (percent of traffic to the candidate) and bake time per step. At most 99: a step at 100 would send
     * all traffic to the candidate before any analysis, and leave the champion arm no requests to compare with;
     * promotion after the last step is what moves the rest.
     */
    steps: z
      .array(
        z.object({
          weight: z.number().int().min(1).max(99, 'a canary step weighs at most 99 (promotion moves the rest)'),
          bakeSeconds: z.number().min(0),
        }),
      )
      .min(1),
    /** Requests the pipeline replays through the gateway per step (test split, with feedback). */
    requestsPerStep: z.number().int().min(0).default(D.requestsPerStep),
    /** Fewest requests and feedback samples per arm before a step can pass (fewer: inconclusive). */
    minSamples: z.number().int().min(1).default(D.minSamples),
    /** Breach when candidate accuracy is below the champion's by more than this. */
    maxAccuracyDrop: z.number().min(0).max(1).default(D.maxAccuracyDrop),
    /** Breach when the candidate's error rate exceeds the champion's by more than this. */
    maxErrorRateIncrease: z.number().min(0).max(1).default(D.maxErrorRateIncrease),
    /** Breach when the candidate's p95 latency is above the champion's times this ratio… */
    maxP95LatencyRatio: z.number().min(1).default(D.maxP95LatencyRatio),
    /** …and also more than this many milliseconds above it (so sub-millisecond noise never breaches). */
    maxP95LatencyIncreaseMs: z.number().min(0).default(D.maxP95LatencyIncreaseMs),
    /** Breached analyses tolerated over the whole canary; the next breach rolls back. 0: the first breach rolls back. */
    failureLimit: z.number().int().min(0).default(D.failureLimit),
    /** Failed metric reads in a row tolerated; the next failure aborts the canary and rolls back. */
    consecutiveErrorLimit: z.number().int().min(0).default(D.consecutiveErrorLimit),
    /** Wait before re-reading metrics after a failed read. */
    metricsRetrySeconds: z.number().min(0).default(D.metricsRetrySeconds),
    /** Too few samples: `extend` bakes the step again (up to maxExtensions), `hold` pauses for a responder, `rollback` rolls back. */
    onInconclusive: z.enum(['hold', 'extend', 'rollback']).default(D.onInconclusive),
    maxExtensions: z.number().int().min(0).default(D.maxExtensions),
    /** Longest a canary stays paused (pause signal or `hold`) before it rolls back. */
    pauseTimeoutSeconds: z.number().positive().default(D.pauseTimeoutSeconds),
    /** Live metrics from the gateway's prediction log or from Prometheus (`PROMETHEUS_URL`). */
    metricsSource: z.enum(['gateway', 'prometheus']).default(D.metricsSource),
    /**
     * Gateway token names whose feedback the analysis counts (the gateway tags each label with its token's name,
     * `anonymous` when it runs open on loopback). Default: `pipeline` (the workers' own replayed traffic) and
     * `anonymous`; list your labelling clients' tokens to count their feedback too.
     */
    trustedFeedbackSources: z
      .array(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a gateway token name: 1-64 letters, digits, _ . -'))
      .default([...D.trustedFeedbackSources]),
  }),
  /**
   * The monitor of the served champion (monitorWorkflow): every window it judges the gateway's prediction log
   * against these limits; a breach that lasts `consecutiveWindows` windows takes its kind's action.
   */
  monitor: z
    .object({
      /**
       * Start this dataset's monitor on its own once its model is deployed (the CPU worker looks every minute);
       * false leaves starting and stopping it to `trainset monitor start` and the operator.
       */
      autoStart: z.boolean().default(true),
      /** Length of a window. */
      windowSeconds: z.number().int().min(10).default(300),
      /** Fewest requests in a window for errors, latency, prediction shift and drift to be judged. */
      minRequests: z.number().int().min(1).default(50),
      /** Fewest trusted feedback labels in a window for live accuracy to be judged. */
      minFeedback: z.number().int().min(1).default(30),
      /** Breached windows in a row before the kind's action (an alert fires on every breached window). */
      consecutiveWindows: z.number().int().min(1).default(3),
      /** A champion promoted this recently may be rolled back by the monitor; after it, a breach alerts or retrains. */
      probationHours: z.number().min(0).default(72),
      limits: z
        .object({
          /** Live accuracy on trusted feedback below this breaches. */
          minAccuracy: z.number().min(0).max(1).default(0.5),
          /** Live accuracy more than this below the champion's offline test accuracy breaches. */
          maxAccuracyDrop: z.number().min(0).max(1).default(0.15),
          /** Share of failed requests above this breaches. */
          maxErrorRate: z.number().min(0).max(1).default(0.05),
          /** p95 latency above this many milliseconds breaches. */
          maxP95LatencyMs: z.number().positive().default(1000),
          /** L∞ distance of predicted-label shares from the training set's label shares above this breaches. */
          maxPredictionShift: z.number().positive().max(1).default(0.25),
          /**
           * Train/serve skew of a field the model reads above this breaches: the gap between its completeness in
           * training and in served requests, or the share of served categories never seen in training.
           */
          maxSkew: z.number().positive().max(1).default(0.2),
        })
        .prefault({}),
      /** Action per kind of lasting breach; input drift uses quality.drift's limits and per-feature policy (skip, limits). */
      actions: z
        .object({
          accuracy: MonitorActionSchema.default('rollback'),
          errors: MonitorActionSchema.default('rollback'),
          latency: MonitorActionSchema.default('alert'),
          prediction_shift: MonitorActionSchema.default('alert'),
          drift: MonitorActionSchema.default('retrain'),
          skew: MonitorActionSchema.default('alert'),
          no_traffic: MonitorActionSchema.default('alert'),
        })
        .prefault({}),
    })
    // prefault: an absent section is parsed as {}, so each default above is written once.
    .prefault({}),
});

/** A validated dataset spec. */
export type DatasetSpec = z.infer<typeof DatasetSpecSchema>;
/** A PII action. */
export type PiiAction = z.infer<typeof PiiActionSchema>;
/** A PII entity type. */
export type PiiEntity = z.infer<typeof PiiEntitySchema>;
/** The monitor's policy. */
export type MonitorPolicy = DatasetSpec['monitor'];
/** One canary step. */
export type CanaryStep = DatasetSpec['canary']['steps'][number];

/** Parse a spec object; throws an Error listing every problem with its path. */
export function parseDatasetSpec(raw: unknown, source = 'spec'): DatasetSpec {
  const r = DatasetSpecSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`Invalid dataset spec ${source}:\n${lines.join('\n')}`);
  }
  const spec = r.data;
  const declared = new Set(Object.keys(spec.schema.fields));
  const needed = [
    spec.schema.idField,
    spec.schema.timeField,
    spec.schema.labelField,
    ...spec.schema.textFields,
    ...spec.schema.categoricalFields,
    ...(spec.gates.slices ?? []),
  ];
  const missing = needed.filter((f) => !declared.has(f));
  if (missing.length > 0) {
    throw new Error(`Invalid dataset spec ${source}: fields used but not declared in schema.fields: ${missing.join(', ')}`);
  }
  return spec;
}
