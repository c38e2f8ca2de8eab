/** Task queue for workflows and data activities (ingest, PII, dedupe, versioning, canary). */
export const CPU_TASK_QUEUE = 'trainset-cpu';
/** Task queue for training activities; one activity slot per GPU. */
export const GPU_TASK_QUEUE = 'trainset-gpu';
