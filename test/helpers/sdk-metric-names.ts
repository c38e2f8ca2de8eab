/**
 * Temporal SDK metric names (as a worker's /metrics serves them: prefix temporal_, durations in seconds,
 * `_total` on counters) that the Grafana dashboard may use. test/integration/telemetry.test.ts proves each
 * one is really scraped from a worker that ran a workflow; test/unit/dashboard.test.ts allows only these
 * and the pipeline's own registered metrics.
 */
export const SDK_METRIC_NAMES: readonly string[] = [
  'temporal_workflow_completed_total',
  'temporal_workflow_failed_total',
  'temporal_workflow_endtoend_latency_bucket',
  'temporal_workflow_task_schedule_to_start_latency_bucket',
  'temporal_workflow_task_execution_latency_bucket',
  'temporal_activity_schedule_to_start_latency_bucket',
  'temporal_activity_execution_latency_bucket',
  'temporal_activity_execution_failed_total',
  'temporal_worker_task_slots_available',
  'temporal_worker_task_slots_used',
  'temporal_sticky_cache_size',
  'temporal_num_pollers',
  'temporal_request_total',
];
