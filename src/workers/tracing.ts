/**
 * OpenTelemetry tracing through Temporal's interceptors: workflow spans (RunWorkflow, StartActivity, …) are
 * made in the workflow sandbox and leave it through a sink; activity spans (RunActivity) are made by the
 * activity interceptor, children of the workflow's span through the trace header. Spans go to an OTLP/HTTP
 * collector when OTEL_EXPORTER_OTLP_ENDPOINT is set; without it tracing is off and nothing is installed.
 */
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';

/** The workflow interceptor module the bundle must include when tracing is on (exports `interceptors`). */
export const OTEL_WORKFLOW_INTERCEPTOR_MODULE = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

/** Options of createTracing. */
export interface TracingOptions {
  /** OTLP/HTTP base URL (OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://collector:4318); spans go to `<url>/v1/traces`. */
  otlpEndpoint?: string;
  /** Exporter to use instead of OTLP (tests: an InMemorySpanExporter); spans are exported one by one. */
  exporter?: SpanExporter;
  /** service.name of the spans. */
  serviceName: string;
}

/** Tracing of one process: what workers and clients add to their options, and the flush on shutdown. */
export interface Tracing {
  provider: NodeTracerProvider;
  /** For the worker's `interceptors.activity`. */
  activityInterceptors: ActivityInterceptorsFactory[];
  /** For the worker's `sinks` (the workflow sandbox exports its spans through it). */
  sinks: InjectedSinks<never>;
  /** For a Client's `interceptors.workflow` (start/signal/query spans, trace context into the workflow). */
  clientInterceptors: WorkflowClientInterceptor[];
  /** Flush pending spans and stop. */
  shutdown(): Promise<void>;
}

/** Tracing for the options, or undefined (off) when there is neither an endpoint nor an exporter. */
export function createTracing(o: TracingOptions): Tracing | undefined {
  let processor: SpanProcessor;
  if (o.exporter) processor = new SimpleSpanProcessor(o.exporter);
  else if (o.otlpEndpoint) processor = new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(o.otlpEndpoint) }));
  else return undefined;
  const resource = new Resource({ 'service.name': o.serviceName });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  // Global registration sets the W3C propagator and the async context manager the activity interceptor relies on.
  provider.register();
  const tracer = provider.getTracer('trainset');
  return {
    provider,
    activityInterceptors: [
      (ctx) => ({
        inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer }),
        outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
      }),
    ],
    sinks: { exporter: makeWorkflowExporter(processor, resource) } as InjectedSinks<never>,
    clientInterceptors: [new OpenTelemetryWorkflowClientInterceptor({ tracer })],
    shutdown: () => provider.shutdown(),
  };
}

/** The traces URL of an OTLP/HTTP base endpoint (the convention of OTEL_EXPORTER_OTLP_ENDPOINT). */
export function tracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}
