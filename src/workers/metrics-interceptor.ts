/** Activity interceptor that turns each activity's result (or failure) into pipeline metrics. */
import type { Context } from '@temporalio/activity';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptorsFactory, Next } from '@temporalio/worker';
import { type PipelineMetrics, recordActivityFailure, recordActivityResult } from './pipeline-metrics';

/** Records metrics after each activity attempt; a metrics problem never changes the activity's outcome. */
export class MetricsActivityInboundInterceptor implements ActivityInboundCallsInterceptor {
  constructor(
    private readonly ctx: Context,
    private readonly metrics: PipelineMetrics,
    private readonly onError: (err: unknown) => void,
  ) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const activityType = this.ctx.info.activityType;
    let result: unknown;
    try {
      result = await next(input);
    } catch (err) {
      this.safely(() => recordActivityFailure(this.metrics, activityType, err));
      throw err;
    }
    this.safely(() => recordActivityResult(this.metrics, activityType, input.args[0], result));
    return result;
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.onError(err);
    }
  }
}

/** The interceptor factory for a worker's `interceptors.activity` list. */
export function metricsActivityInterceptors(
  metrics: PipelineMetrics,
  onError: (err: unknown) => void = () => undefined,
): ActivityInterceptorsFactory {
  return (ctx) => ({ inbound: new MetricsActivityInboundInterceptor(ctx, metrics, onError) });
}
