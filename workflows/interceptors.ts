import {
  proxySinks,
  workflowInfo,
  type Sinks,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
} from '@temporalio/workflow';

/** Sink the worker implements (workers/interceptors.ts) to count workflow jobs in Prometheus. */
export interface JobMetricsSinks extends Sinks {
  jobMetrics: {
    /** Called once when a workflow execution closes (never during replay). */
    workflowClosed(outcome: 'completed' | 'failed' | 'continued', durationMs: number, errorType?: string): void;
  };
}

const { jobMetrics } = proxySinks<JobMetricsSinks>();

function errorType(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const { type, name } = err as { type?: unknown; name?: unknown };
    if (typeof type === 'string' && type) return type;
    if (typeof name === 'string' && name) return name;
  }
  return 'Error';
}

class JobMetricsInterceptor implements WorkflowInboundCallsInterceptor {
  async execute(input: Parameters<NonNullable<WorkflowInboundCallsInterceptor['execute']>>[0], next: Parameters<NonNullable<WorkflowInboundCallsInterceptor['execute']>>[1]): Promise<unknown> {
    const started = workflowInfo().startTime.getTime();
    try {
      const result = await next(input);
      jobMetrics.workflowClosed('completed', Date.now() - started);
      return result;
    } catch (err) {
      const continued = errorType(err) === 'ContinueAsNew';
      jobMetrics.workflowClosed(continued ? 'continued' : 'failed', Date.now() - started, continued ? undefined : errorType(err));
      throw err;
    }
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ inbound: [new JobMetricsInterceptor()] });
