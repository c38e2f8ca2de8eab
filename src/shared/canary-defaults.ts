/** Defaults of the spec's canary analysis policy (also applied to runs whose plan predates a field). */
export const CANARY_POLICY_DEFAULTS = {
  requestsPerStep: 400,
  minSamples: 50,
  maxAccuracyDrop: 0.1,
  maxErrorRateIncrease: 0.05,
  maxP95LatencyRatio: 1.5,
  maxP95LatencyIncreaseMs: 25,
  failureLimit: 0,
  consecutiveErrorLimit: 4,
  metricsRetrySeconds: 5,
  onInconclusive: 'extend',
  maxExtensions: 2,
  pauseTimeoutSeconds: 4 * 3600,
  metricsSource: 'gateway',
  /**
   * Feedback sources the analysis counts: the pipeline's own replayed traffic (the workers' gateway token, named
   * `pipeline`) and `anonymous` (an open gateway, which listens on loopback only). Other clients' feedback counts only
   * when the spec lists their token names.
   */
  trustedFeedbackSources: ['pipeline', 'anonymous'],
} as const;
