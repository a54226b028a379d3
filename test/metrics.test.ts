import { createMetrics, updateIdleIterations } from '../lib/metrics';

// SDK exposition as a worker process sees it after a minute of idle long polls.
const SDK_TEXT = [
  '# HELP temporal_activity_poll_no_task Count of activity task queue poll timeouts (no new task)',
  '# TYPE temporal_activity_poll_no_task counter',
  'temporal_activity_poll_no_task{namespace="default",service_name="temporal-core-sdk",task_queue="p-sync"} 10',
  'temporal_activity_poll_no_task{namespace="default",service_name="temporal-core-sdk",task_queue="p-ingestion"} 4',
  '# TYPE temporal_workflow_task_queue_poll_empty counter',
  'temporal_workflow_task_queue_poll_empty{namespace="default",service_name="temporal-core-sdk",task_queue="p-sync"} 2',
  'temporal_workflow_task_queue_poll_empty{namespace="default",service_name="temporal-core-sdk",task_queue="worker-1:sticky-abc"} 7',
  'temporal_num_pollers{namespace="default",poller_type="activity_task",task_queue="p-sync"} 10',
].join('\n');

describe('durasync metrics', () => {
  it('derives idle iterations per queue and poller from the SDK empty-poll counters, leaving sticky queues out', async () => {
    const metrics = createMetrics();
    const queueOf = (tq: string) => ({ 'p-sync': 'sync', 'p-ingestion': 'ingestion' })[tq];
    updateIdleIterations(metrics, SDK_TEXT, queueOf);
    const text = await metrics.registry.metrics();
    expect(text).toContain('durasync_idle_iterations_total{queue="sync",poller="activity"} 10');
    expect(text).toContain('durasync_idle_iterations_total{queue="ingestion",poller="activity"} 4');
    expect(text).toContain('durasync_idle_iterations_total{queue="sync",poller="workflow"} 2');
    expect(text).not.toContain('sticky');

    // The SDK counters only grow; a later scrape mirrors them without double counting.
    updateIdleIterations(metrics, SDK_TEXT.replace('task_queue="p-sync"} 10', 'task_queue="p-sync"} 15'), queueOf);
    const again = await metrics.registry.metrics();
    expect(again).toContain('durasync_idle_iterations_total{queue="sync",poller="activity"} 15');
    expect(again).toContain('durasync_idle_iterations_total{queue="ingestion",poller="activity"} 4');
  });

  it('reads memory at scrape time', async () => {
    const text = await createMetrics().registry.metrics();
    expect(text).toMatch(/^durasync_memory_usage_bytes\{type="rss"\} [1-9]\d+$/m);
    expect(text).toMatch(/^durasync_memory_usage_bytes\{type="heapUsed"\} [1-9]\d+$/m);
  });
});
