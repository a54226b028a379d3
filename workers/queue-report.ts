import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

/** What `/api/v1/workers/queue` reports for one queue. */
export interface QueueReport {
  queue: string;
  taskQueue: string;
  /** Tasks waiting for a worker (the server's approximate backlog), by task type. */
  backlog: { workflow: number; activity: number };
  /** Workers polling in the last minutes, as the server saw them. */
  pollers: Array<{ identity: string; type: 'workflow' | 'activity'; lastAccessTime: string | null }>;
  /** Workflow executions on this task queue, from visibility. */
  workflows: { running: number; completed: number; failed: number };
}

const { TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY } = temporal.api.enums.v1.TaskQueueType;

/**
 * Backlog and pollers from DescribeTaskQueue (with stats), and running / completed / failed counts
 * from visibility (CountWorkflowExecutions), for each task queue.
 */
export async function describeQueues(client: Client, queues: Array<{ queue: string; taskQueue: string }>): Promise<QueueReport[]> {
  const service = client.workflowService;
  const namespace = client.options.namespace;
  return Promise.all(
    queues.map(async ({ queue, taskQueue }) => {
      const describe = (taskQueueType: temporal.api.enums.v1.TaskQueueType) =>
        service.describeTaskQueue({ namespace, taskQueue: { name: taskQueue }, taskQueueType, reportStats: true });
      const count = async (status: string) =>
        Number((await client.workflow.count(`TaskQueue = "${taskQueue}" AND ExecutionStatus = "${status}"`)).count);
      const [wf, act, running, completed, failed] = await Promise.all([
        describe(TASK_QUEUE_TYPE_WORKFLOW),
        describe(TASK_QUEUE_TYPE_ACTIVITY),
        count('Running'),
        count('Completed'),
        count('Failed'),
      ]);
      const pollers = (type: 'workflow' | 'activity', list: temporal.api.taskqueue.v1.IPollerInfo[] | null | undefined) =>
        (list ?? []).map((p) => ({
          identity: p.identity ?? '',
          type,
          lastAccessTime: p.lastAccessTime?.seconds ? new Date(Number(p.lastAccessTime.seconds) * 1000).toISOString() : null,
        }));
      return {
        queue,
        taskQueue,
        backlog: {
          workflow: Number(wf.stats?.approximateBacklogCount ?? 0),
          activity: Number(act.stats?.approximateBacklogCount ?? 0),
        },
        pollers: [...pollers('workflow', wf.pollers), ...pollers('activity', act.pollers)],
        workflows: { running, completed, failed },
      };
    }),
  );
}
