/**
 * Every `patched()` id of the workflows, in one place. A patch keeps runs that started before a change on their
 * old command sequence; the new path runs for everything started since. The ids are recorded in histories as
 * markers, so each string must stay byte-identical for as long as its patch exists.
 *
 * Retiring a patch (Temporal's three steps): once no run started before its commit is open (check with
 * `temporal workflow list --query 'StartTime < "<commit date>"'` and the namespace's retention), replace
 * `patched(id)` with `deprecatePatch(id)` and drop the old path; once no run started before *that* deploy is
 * open, drop the `deprecatePatch` call too. The pre-patch histories named below replay the old path: retire them
 * in the same change that drops it (test/workflows/replay.test.ts replays every file in test/histories).
 */

/**
 * retrainPipelineWorkflow (issue 10, commit eb342d5): train/deploy modes from the input, a rollback before the canary
 * stops the run, gate and canary decisions as local activities, revertPromotion registered before promoting,
 * compare-and-set routing. Old path (and src/workflows/frozen-decisions.ts) replayed by retrain-promoted.json,
 * retrain-rolled-back.json, retrain-rollback-signal.json. Remove once no run started before eb342d5 is open.
 */
export const PIPELINE_V2 = 'pipeline-v2';

/**
 * retrainPipelineWorkflow writes its run report (commit fc0e0ac). Runs before it replay without the writeRunReport
 * activity (retrain-*.json). Remove once no run started before fc0e0ac is open.
 */
export const RUN_REPORT = 'run-report';

/**
 * retrainPipelineWorkflow upserts its custom search attributes (commit fc0e0ac). Runs before it replay without the
 * upserts (retrain-*.json). Remove once no run started before fc0e0ac is open.
 */
export const SEARCH_ATTRIBUTES = 'search-attributes';

/**
 * The canary's last step checks for a rollback, promote or pause that arrived while it was analysed (commit
 * 6b80340). Runs before it promote straight after the last step (retrain-*.json). Remove once no run started before
 * 6b80340 is open.
 */
export const CANARY_FINAL_CHECK = 'canary-final-check';

/**
 * Canary traffic is cancelled without waiting for the activity to acknowledge (`trafficNoWait`, commit 312a287).
 * Runs before it wait (`traffic`; retrain-*.json). Remove once no run started
 * before 312a287 is open.
 */
export const CANARY_TRAFFIC_TRY_CANCEL = 'canary-traffic-try-cancel';

/**
 * nightlyRetrainWorkflow runs a scheduled run for a past partition as a backfill (no deploy; commit eb342d5). Runs
 * before it pass their input on unchanged (nightly-waits-for-other-run.json, nightly-forwards-signal.json,
 * nightly-holds-early-signal.json). Remove once no nightly run started before eb342d5 is open.
 */
export const NIGHTLY_PAST_DAYS_AS_BACKFILL = 'nightly-past-days-as-backfill';

/**
 * backfillWorkflow carries the partitions other starters hold across continue-as-new and restarts those whose run
 * failed (commit 1a35e4b). Runs before it settle them in every run (backfill-below-ratio.json,
 * backfill-continued-as-new.json, backfill-resize-pause.json). Remove once no backfill started before 1a35e4b is open.
 */
export const BACKFILL_SETTLE_V2 = 'backfill-settle-v2';

/**
 * backfillWorkflow's partition runs never deploy and train only when asked (commit eb342d5). Runs before it start
 * each partition with only dataset and date (every backfill-*.json but backfill-never-deploys.json). Remove once no
 * backfill started before eb342d5 is open.
 */
export const BACKFILL_NEVER_DEPLOYS = 'backfill-never-deploys';
