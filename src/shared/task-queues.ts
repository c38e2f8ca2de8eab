/** Task queue for workflows and data activities (ingest, PII, dedupe, versioning, canary). */
export const CPU_TASK_QUEUE = 'trainset-cpu';
/** Task queue for training activities; one activity slot per GPU. */
export const GPU_TASK_QUEUE = 'trainset-gpu';
/**
 * Task queue of the partition runs a backfill starts (and of the backfill's own lookups): a worker with fewer
 * slots serves it, so a large backfill never queues ahead of the nightly runs on trainset-cpu.
 */
export const BACKFILL_TASK_QUEUE = 'trainset-backfill';
