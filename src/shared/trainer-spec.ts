/** The `trainer` section of a dataset spec: which backend trains the model, with what, on how many GPUs. */
import { z } from 'zod';

/** A Kubernetes toleration, as in a pod spec. */
const TolerationSchema = z.object({
  key: z.string().optional(),
  operator: z.enum(['Exists', 'Equal']).optional(),
  value: z.string().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
  tolerationSeconds: z.number().int().optional(),
});

/** `trainer.kubernetes`: how the kubernetes backend builds the training Job. */
export const KubernetesTrainerSchema = z.object({
  /** Trainer image; pin it by digest (`repo@sha256:…`) so the trainer identity changes exactly when the image does. */
  image: z.string().min(1),
  /** Command of the trainer container (the job directory is appended); default: the image's entrypoint. */
  command: z.array(z.string().min(1)).optional(),
  namespace: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a Kubernetes namespace name (DNS-1123 label)')
    .default('default'),
  serviceAccountName: z.string().min(1).optional(),
  nodeSelector: z.record(z.string(), z.string()).default({}),
  tolerations: z.array(TolerationSchema).default([]),
  /** Secret holding the blob store credentials (keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), by reference. */
  s3CredentialsSecret: z.string().min(1).optional(),
  /** Image with the trainset CLI that moves the job directory between the blob store and the pod. */
  syncImage: z.string().min(1).default('trainset:latest'),
  /** Container resources besides GPUs, e.g. { cpu: '4', memory: '16Gi' }. */
  resources: z.object({ cpu: z.string().optional(), memory: z.string().optional() }).default({}),
  /** Seconds a finished Job (and its pods, with their logs) stays before Kubernetes deletes it. */
  ttlSecondsAfterFinished: z.number().int().min(0).default(86_400),
  /** Upper bound on the Job's run time, after which Kubernetes stops it (a retryable failure); default none. */
  activeDeadlineSeconds: z.number().int().min(1).optional(),
  /** Secrets for pulling the trainer and sync images from a private registry. */
  imagePullSecrets: z.array(z.string().min(1)).default([]),
});

/** `trainer` of a spec. */
export const TrainerSpecSchema = z
  .object({
    /** builtin: the hashed logistic regression in a Node child process; process: a command on the GPU worker's host; kubernetes: a batch/v1 Job. */
    backend: z.enum(['builtin', 'process', 'kubernetes']).default('builtin'),
    /** The builtin trainer's model. */
    kind: z.literal('logreg-hashed').default('logreg-hashed'),
    /** Width of the hashed feature vector every trainer gets (the ONNX model's input). */
    features: z
      .number()
      .int()
      .min(64)
      .max(1 << 20)
      .default(4096),
    epochs: z.number().int().min(1).max(500).default(30),
    /** Builtin trainer: step size and L2 penalty. */
    learningRate: z.number().positive().default(0.5),
    l2: z.number().min(0).default(1e-4),
    seed: z.number().int().default(42),
    /** GPUs a training job leases (0: CPU). */
    gpus: z.number().int().min(0).max(64).default(0),
    /** Passed to the trainer in job.json as is; part of the training cache key. */
    hyperparameters: z.record(z.string(), z.unknown()).default({}),
    /** A trainer that prints nothing for this long is taken as hung: killed, and the attempt retried. */
    progressTimeoutSeconds: z.number().int().min(5).max(86_400).default(900),
    /** process backend: the trainer's argv (the job directory is appended); relative paths resolve against the worker's trainers root. */
    command: z.array(z.string().min(1)).min(1).optional(),
    /** process backend: files and folders hashed into the trainer identity (default: the command's arguments that exist as paths). */
    files: z.array(z.string().min(1)).optional(),
    /** process backend: extra environment of the trainer. */
    env: z.record(z.string(), z.string()).default({}),
    kubernetes: KubernetesTrainerSchema.optional(),
  })
  .superRefine((t, ctx) => {
    if (t.backend === 'process' && !t.command)
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'the process backend needs "command"' });
    if (SHUFFLE_LABELS in t.hyperparameters && typeof t.hyperparameters[SHUFFLE_LABELS] !== 'boolean')
      ctx.addIssue({ code: 'custom', path: ['hyperparameters', SHUFFLE_LABELS], message: 'must be true or false' });
    if (t.backend === 'kubernetes' && !t.kubernetes)
      ctx.addIssue({ code: 'custom', path: ['kubernetes'], message: 'the kubernetes backend needs a "kubernetes" section (image, ...)' });
  });

/**
 * `trainer.hyperparameters.shuffleLabels: true` permutes the train split's labels before any trainer sees them, so the
 * model learns nothing: a model that must be caught, for the demo and for rehearsing a canary rollback. Never set it on
 * a production spec. Like every hyperparameter it is part of the training key, so it never reuses a sound model.
 */
export const SHUFFLE_LABELS = 'shuffleLabels';

/** Whether the trainer section asks for permuted train labels (see SHUFFLE_LABELS). */
export function shufflesLabels(trainer: Pick<TrainerSpec, 'hyperparameters'>): boolean {
  return trainer.hyperparameters[SHUFFLE_LABELS] === true;
}

/** A validated `trainer` section. */
export type TrainerSpec = z.infer<typeof TrainerSpecSchema>;
/** `trainer.kubernetes`, validated. */
export type KubernetesTrainerSpec = z.infer<typeof KubernetesTrainerSchema>;
