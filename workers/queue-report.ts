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

/** Normal task queues have 4 partitions by default; pollers spread over them. */
const PARTITIONS = 4;
const partitionName = (taskQueue: string, n: number) => (n === 0 ? taskQueue : `/_sys/${taskQueue}/${n}`);

/**
 * Backlog (DescribeTaskQueue with stats, which covers the whole task queue), pollers (asked of
 * every partition, as `temporal task-queue describe --partitions-legacy` does: each partition
 * only knows its own), and running / completed / failed counts from visibility, per task queue.
 */
export async function describeQueues(client: Client, queues: Array<{ queue: string; taskQueue: string }>): Promise<QueueReport[]> {
  const service = client.workflowService;
  const namespace = client.options.namespace;
  return Promise.all(
    queues.map(async ({ queue, taskQueue }) => {
      const describe = (taskQueueType: temporal.api.enums.v1.TaskQueueType) =>
        service.describeTaskQueue({ namespace, taskQueue: { name: taskQueue }, taskQueueType, reportStats: true });
      const partitionPollers = async (taskQueueType: temporal.api.enums.v1.TaskQueueType) => {
        const answers = await Promise.all(
          Array.from({ length: PARTITIONS - 1 }, (_, i) =>
            service.describeTaskQueue({ namespace, taskQueue: { name: partitionName(taskQueue, i + 1), kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL }, taskQueueType }),
          ),
        );
        return answers.flatMap((a) => a.pollers ?? []);
      };
      const count = async (status: string) =>
        Number((await client.workflow.count(`TaskQueue = "${taskQueue}" AND ExecutionStatus = "${status}"`)).count);
      const [wf, act, wfPollers, actPollers, running, completed, failed] = await Promise.all([
        describe(TASK_QUEUE_TYPE_WORKFLOW),
        describe(TASK_QUEUE_TYPE_ACTIVITY),
        partitionPollers(TASK_QUEUE_TYPE_WORKFLOW),
        partitionPollers(TASK_QUEUE_TYPE_ACTIVITY),
        count('Running'),
        count('Completed'),
        count('Failed'),
      ]);
      const pollers = (type: 'workflow' | 'activity', list: temporal.api.taskqueue.v1.IPollerInfo[]) => {
        const latest = new Map<string, number>();
        for (const p of list) {
          const seen = Number(p.lastAccessTime?.seconds ?? 0) * 1000;
          latest.set(p.identity ?? '', Math.max(seen, latest.get(p.identity ?? '') ?? 0));
        }
        return [...latest].map(([identity, seen]) => ({ identity, type, lastAccessTime: seen ? new Date(seen).toISOString() : null }));
      };
      return {
        queue,
        taskQueue,
        backlog: {
          workflow: Number(wf.stats?.approximateBacklogCount ?? 0),
          activity: Number(act.stats?.approximateBacklogCount ?? 0),
        },
        pollers: [...pollers('workflow', [...(wf.pollers ?? []), ...wfPollers]), ...pollers('activity', [...(act.pollers ?? []), ...actPollers])],
        workflows: { running, completed, failed },
      };
    }),
  );
}

/** The server's approximate backlog of each task queue, by task type (two DescribeTaskQueue calls per queue). */
export async function queueBacklog(
  client: Client,
  queues: Array<{ queue: string; taskQueue: string }>,
): Promise<Array<{ queue: string; taskType: 'workflow' | 'activity'; count: number }>> {
  const namespace = client.options.namespace;
  const answers = await Promise.all(
    queues.flatMap(({ queue, taskQueue }) =>
      ([['workflow', TASK_QUEUE_TYPE_WORKFLOW], ['activity', TASK_QUEUE_TYPE_ACTIVITY]] as const).map(async ([taskType, type]) => {
        const res = await client.workflowService.describeTaskQueue({ namespace, taskQueue: { name: taskQueue }, taskQueueType: type, reportStats: true });
        return { queue, taskType, count: Number(res.stats?.approximateBacklogCount ?? 0) };
      }),
    ),
  );
  return answers;
}
