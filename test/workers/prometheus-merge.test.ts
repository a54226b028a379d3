import { labelSample, mergePrometheus } from '../../workers/prometheus-merge';

const CHILD_A = `# HELP temporal_workflow_completed Number of workflows completed
# TYPE temporal_workflow_completed counter
temporal_workflow_completed{namespace="default",task_queue="sync"} 3
# HELP temporal_activity_execution_latency Activity latency
# TYPE temporal_activity_execution_latency histogram
temporal_activity_execution_latency_bucket{activity_type="probe",le="0.1"} 1
temporal_activity_execution_latency_bucket{activity_type="probe",le="+Inf"} 2
temporal_activity_execution_latency_sum{activity_type="probe"} 0.35
temporal_activity_execution_latency_count{activity_type="probe"} 2
# HELP durasync_memory_usage_bytes Memory of this worker process.
# TYPE durasync_memory_usage_bytes gauge
durasync_memory_usage_bytes{type="rss"} 1000
`;

const CHILD_B = `# HELP temporal_workflow_completed Number of workflows completed
# TYPE temporal_workflow_completed counter
temporal_workflow_completed{namespace="default",task_queue="ingestion"} 1
# HELP durasync_memory_usage_bytes Memory of this worker process.
# TYPE durasync_memory_usage_bytes gauge
durasync_memory_usage_bytes{type="rss"} 2000
# HELP durasync_jobs_processed_total Jobs that completed successfully.
# TYPE durasync_jobs_processed_total counter
durasync_jobs_processed_total{queue="ingestion",job_type="canary",kind="workflow"} 1
`;

function typeLines(text: string): string[] {
  return text.split('\n').filter((l) => l.startsWith('# TYPE '));
}

describe('prometheus merge', () => {
  it('declares each family once and groups its samples from every source, each labelled with its worker', () => {
    const merged = mergePrometheus([
      { worker: 'sync#1', text: CHILD_A },
      { worker: 'ingestion#1', text: CHILD_B },
    ]);
    expect(typeLines(merged)).toEqual([
      '# TYPE temporal_workflow_completed counter',
      '# TYPE temporal_activity_execution_latency histogram',
      '# TYPE durasync_memory_usage_bytes gauge',
      '# TYPE durasync_jobs_processed_total counter',
    ]);
    expect(merged.split('\n').filter((l) => l.startsWith('# HELP temporal_workflow_completed'))).toHaveLength(1);
    const completed = merged.indexOf('# TYPE temporal_workflow_completed counter');
    expect(merged.slice(completed).split('\n').slice(1, 3)).toEqual([
      'temporal_workflow_completed{namespace="default",task_queue="sync",worker="sync#1"} 3',
      'temporal_workflow_completed{namespace="default",task_queue="ingestion",worker="ingestion#1"} 1',
    ]);
    expect(merged).toContain('temporal_activity_execution_latency_bucket{activity_type="probe",le="+Inf",worker="sync#1"} 2');
    expect(merged).toContain('temporal_activity_execution_latency_count{activity_type="probe",worker="sync#1"} 2');
    expect(merged.endsWith('\n')).toBe(true);
    for (const line of merged.split('\n').filter((l) => l && !l.startsWith('#'))) expect(line).toMatch(/worker="[^"]+"\}/);
  });

  it('keeps the lines of a family together even when a source repeats it out of order', () => {
    const merged = mergePrometheus([
      { worker: 'a', text: 'up 1\n# TYPE other gauge\nother 2\n' },
      { worker: 'b', text: '# TYPE other gauge\nother 5\nup 1\n' },
    ]);
    expect(merged).toBe(['up{worker="a"} 1', 'up{worker="b"} 1', '# TYPE other gauge', 'other{worker="a"} 2', 'other{worker="b"} 5', ''].join('\n'));
  });

  it('adds a label set to a sample that has none and keeps the timestamp', () => {
    expect(labelSample('process_start_time_seconds 1700000000 1700000000123', 'sync#2')?.line).toBe(
      'process_start_time_seconds{worker="sync#2"} 1700000000 1700000000123',
    );
    expect(labelSample('empty{} 0', 'x')?.line).toBe('empty{worker="x"} 0');
  });

  it('keeps label values with braces, commas and escaped quotes intact', () => {
    expect(labelSample('m{path="/a{b},c",msg="say \\"hi\\""} 1', 'w')?.line).toBe('m{path="/a{b},c",msg="say \\"hi\\"",worker="w"} 1');
  });

  it('renames a worker label the source already had to exported_worker, as Prometheus does', () => {
    expect(labelSample('m{worker="inner"} 1', 'sync#1')?.line).toBe('m{exported_worker="inner",worker="sync#1"} 1');
  });

  it('escapes the worker name and ignores comments, blank lines and malformed samples', () => {
    const merged = mergePrometheus([{ worker: 'we"ird\\', text: '# a comment\n\nm 1\nbroken{a="1" 2\nnovalue\n' }]);
    expect(merged).toBe('m{worker="we\\"ird\\\\"} 1\n');
  });

  it('returns an empty exposition for no sources', () => {
    expect(mergePrometheus([])).toBe('');
  });
});
