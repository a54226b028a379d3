import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { createMetrics } from '../lib/metrics';

/**
 * The observability docs (docs/grafana, docs/prometheus) against the metrics durasync and the
 * Temporal SDK really export: every metric a query names must exist, every panel must be able to
 * show something, every alert must be complete, and every expression must parse (with promtool when
 * it is on PATH, else a light syntax check).
 */
const ROOT = path.resolve(__dirname, '..');
const DASHBOARD_FILE = path.join(ROOT, 'docs', 'grafana', 'durasync-dashboard.json');
const ALERTS_FILE = path.join(ROOT, 'docs', 'prometheus', 'alerts.yml');
const ALERT_TESTS_FILE = path.join(ROOT, 'docs', 'prometheus', 'alerts.test.yml');

/**
 * Metrics of the Temporal SDK (its Rust core's names, `temporal_` prefix of the Prometheus
 * exporter), as observed in real scrapes of a durasync worker's /metrics (TypeScript SDK 1.24).
 * Histograms are exposed as _bucket, _sum and _count, in milliseconds.
 */
const SDK_COUNTERS_AND_GAUGES = [
  'temporal_activity_poll_no_task',
  'temporal_activity_task_received',
  'temporal_activity_execution_failed',
  'temporal_long_request',
  'temporal_long_request_failure',
  'temporal_num_pollers',
  'temporal_request',
  'temporal_request_failure',
  'temporal_sticky_cache_hit',
  'temporal_sticky_cache_size',
  'temporal_sticky_cache_total_forced_eviction',
  'temporal_worker_start',
  'temporal_worker_task_slots_available',
  'temporal_worker_task_slots_used',
  'temporal_workflow_completed',
  'temporal_workflow_failed',
  'temporal_workflow_task_execution_failed',
  'temporal_workflow_task_queue_poll_empty',
  'temporal_workflow_task_queue_poll_succeed',
];
const SDK_HISTOGRAMS = [
  'temporal_activity_execution_latency',
  'temporal_activity_schedule_to_start_latency',
  'temporal_activity_succeed_endtoend_latency',
  'temporal_long_request_latency',
  'temporal_request_latency',
  'temporal_workflow_endtoend_latency',
  'temporal_workflow_task_execution_latency',
  'temporal_workflow_task_replay_latency',
  'temporal_workflow_task_schedule_to_start_latency',
];
/** The manager's own (workers/manager.ts), beside what createMetrics() registers. */
const MANAGER_METRICS = ['durasync_manager_restarts_total', 'durasync_manager_processes'];
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

interface Panel {
  id?: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string } | string | null;
  targets?: Array<{ expr?: string; refId?: string; datasource?: unknown }>;
  panels?: Panel[];
}
interface Dashboard {
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: unknown; definition?: string; datasource?: unknown }> };
}
interface AlertRule {
  alert?: string;
  record?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
const alertGroups = (parseYaml(readFileSync(ALERTS_FILE, 'utf8')) as { groups: Array<{ name: string; rules: AlertRule[] }> }).groups;
const alertRules = alertGroups.flatMap((g) => g.rules);

/** Every panel, rows' nested panels included. */
function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}
const panels = allPanels(dashboard.panels).filter((p) => p.type !== 'row');
const dashboardExprs = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr ?? '' })));
const queueVariable = dashboard.templating.list.find((v) => v.name === 'queue');
const variableQuery = queueVariable?.definition ?? '';
const alertExprs = alertRules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr ?? '' }));

/** `expr` with its string literals replaced by "" (so label values never count as metric names). */
function withoutStrings(expr: string): string {
  let out = '';
  for (let i = 0; i < expr.length; i++) {
    const quote = expr[i]!;
    if (quote !== '"' && quote !== "'" && quote !== '`') {
      out += quote;
      continue;
    }
    let j = i + 1;
    while (j < expr.length && expr[j] !== quote) j += quote === '`' ? 1 : expr[j] === '\\' ? 2 : 1;
    if (j >= expr.length) throw new Error(`unterminated string literal in: ${expr}`);
    out += '""';
    i = j;
  }
  return out;
}

/** Identifiers that look like metric names: durasync_... and temporal_... */
function metricNames(expr: string): string[] {
  return [...withoutStrings(expr).matchAll(/(?<![\w:])(?:durasync|temporal)_[A-Za-z0-9_:]*/g)].map((m) => m[0]);
}

/**
 * A light PromQL syntax check for when promtool is not around: string literals closed, brackets
 * balanced and nested properly, no empty or malformed label matchers, range selectors that hold a
 * duration. Returns the problems found.
 */
function lightPromqlProblems(expr: string): string[] {
  const problems: string[] = [];
  let code: string;
  try {
    code = withoutStrings(expr);
  } catch (err) {
    return [(err as Error).message];
  }
  const stack: string[] = [];
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  for (const ch of code) {
    if ('([{'.includes(ch)) stack.push(ch);
    else if (ch in pairs && stack.pop() !== pairs[ch]) problems.push(`unbalanced "${ch}"`);
  }
  if (stack.length) problems.push(`unclosed "${stack.join('')}"`);
  for (const [, body] of code.matchAll(/\{([^{}]*)\}/g)) {
    if (body!.trim() === '') problems.push('empty label matcher {}');
    for (const matcher of body!.split(',')) {
      if (matcher.trim() === '' && body!.trim() !== '') problems.push(`empty matcher in {${body}}`);
      else if (matcher.trim() !== '' && !/^\s*[A-Za-z_][A-Za-z0-9_]*\s*(=~|!~|!=|=)\s*""\s*$/.test(matcher)) problems.push(`malformed label matcher "${matcher.trim()}"`);
    }
  }
  for (const [, range] of code.matchAll(/\[([^\]]*)\]/g)) {
    if (!/^\s*(\$\w+|\$\{\w+\}|(\d+(ms|[smhdwy]))+)(\s*:\s*((\d+(ms|[smhdwy]))+)?)?\s*$/.test(range!)) problems.push(`bad range "[${range}]"`);
  }
  if (/\b(by|without)\s*[^\s(]/.test(code)) problems.push('by/without not followed by a label list');
  for (const [, q] of code.matchAll(/histogram_quantile\(\s*([^,]*),/g)) {
    if (!(Number(q) > 0 && Number(q) <= 1)) problems.push(`histogram_quantile of "${q}"`);
  }
  if (/^\s*$/.test(code)) problems.push('empty expression');
  return problems;
}

/** Grafana's variables replaced by values Prometheus accepts, so that promtool can parse a panel's query. */
function withGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__(rate_interval|interval|range)\b/g, '5m')
    .replace(/\$\{(\w+)(:\w+)?\}/g, 'sync')
    .replace(/\$\w+/g, 'sync');
}

function promtool(args: string[]): { available: boolean; ok: boolean; output: string } {
  const run = spawnSync('promtool', args, { encoding: 'utf8', cwd: ROOT });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') return { available: false, ok: false, output: '' };
  return { available: true, ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
}
const hasPromtool = promtool(['--version']).available;

describe('metric names in the observability docs', () => {
  let exported: Set<string>;

  beforeAll(async () => {
    const durasync = await createMetrics().registry.getMetricsAsJSON();
    const histograms = [...SDK_HISTOGRAMS, ...durasync.filter((m) => String(m.type) === 'histogram').map((m) => m.name)];
    const plain = [...SDK_COUNTERS_AND_GAUGES, ...MANAGER_METRICS, ...durasync.filter((m) => String(m.type) !== 'histogram').map((m) => m.name)];
    // A histogram exists only as its _bucket, _sum and _count series.
    exported = new Set([...plain, ...histograms.flatMap((h) => HISTOGRAM_SUFFIXES.map((s) => `${h}${s}`))]);
  });

  it('the manager still registers the two metrics this test knows it by', () => {
    const source = readFileSync(path.join(ROOT, 'workers', 'manager.ts'), 'utf8');
    for (const name of MANAGER_METRICS) expect(source).toContain(`'${name}'`);
  });

  it('finds metric names in the expressions it checks (the extractor works)', () => {
    expect(metricNames('sum by (le) (rate(durasync_job_execution_duration_seconds_bucket{queue="temporal_x"}[5m]))')).toEqual(['durasync_job_execution_duration_seconds_bucket']);
    expect(dashboardExprs.flatMap((e) => metricNames(e.expr)).length).toBeGreaterThan(20);
    expect(alertExprs.flatMap((e) => metricNames(e.expr)).length).toBeGreaterThan(5);
  });

  it('every metric the dashboard and the alerts query is one durasync or the Temporal SDK exports', () => {
    const unknown = [...dashboardExprs, ...alertExprs, { where: 'variable queue', expr: variableQuery }].flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((name) => !exported.has(name))
        .map((name) => `${where}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it('the dashboard shows every metric durasync exports', async () => {
    const used = new Set(dashboardExprs.flatMap((e) => metricNames(e.expr)).map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    const durasync = [...(await createMetrics().registry.getMetricsAsJSON()).map((m) => m.name), ...MANAGER_METRICS];
    expect(durasync.filter((name) => !used.has(name))).toEqual([]);
  });
});

describe('Grafana dashboard', () => {
  it('is schema 39 or later with a Prometheus datasource variable and a queue variable', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    const datasource = dashboard.templating.list.find((v) => v.name === 'datasource');
    expect(datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(queueVariable).toMatchObject({ type: 'query', datasource: { type: 'prometheus', uid: '${datasource}' } });
    expect(variableQuery.replace(/\s/g, '')).toBe('label_values(durasync_jobs_processed_total,queue)');
    // A plain string: Grafana turns it into its editor's form itself, whatever its version.
    expect(queueVariable?.query).toBe(variableQuery);
  });

  it('gives every panel the datasource variable and at least one query', () => {
    expect(panels.length).toBeGreaterThan(10);
    const problems = panels.flatMap((p) => {
      const out: string[] = [];
      if (!p.datasource || typeof p.datasource !== 'object' || p.datasource.uid !== '${datasource}') out.push(`${p.title}: no datasource`);
      if (!p.targets?.length) out.push(`${p.title}: no targets`);
      for (const t of p.targets ?? []) if (!t.expr?.trim()) out.push(`${p.title} ${t.refId}: empty expr`);
      return out;
    });
    expect(problems).toEqual([]);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
  });

  it('has the latency percentiles p50, p95 and p99 of durasync jobs', () => {
    const latency = dashboardExprs.map((e) => e.expr).filter((e) => e.includes('durasync_job_execution_duration_seconds_bucket'));
    for (const q of ['0.5', '0.95', '0.99']) expect(latency.some((e) => e.startsWith(`histogram_quantile(${q},`))).toBe(true);
  });
});

describe('Prometheus alerts', () => {
  it('has the alerts the runbook describes, each with expr, for, severity and summary', () => {
    expect(alertRules.map((r) => r.alert)).toEqual(
      expect.arrayContaining(['DurasyncJobErrorRateHigh', 'DurasyncTaskQueueBacklogHigh', 'DurasyncQueueHasNoWorkers', 'DurasyncManagerQueueNotReady', 'DurasyncJobLatencyHigh']),
    );
    const problems = alertRules.flatMap((r) => {
      const out: string[] = [];
      if (!r.alert) out.push(`a rule without a name: ${JSON.stringify(r)}`);
      if (!r.expr?.trim()) out.push(`${r.alert}: no expr`);
      if (!/^\d+[smh]$/.test(r.for ?? '')) out.push(`${r.alert}: no for`);
      if (!['critical', 'warning', 'info'].includes(r.labels?.severity ?? '')) out.push(`${r.alert}: no severity`);
      if (!r.annotations?.summary?.trim()) out.push(`${r.alert}: no summary`);
      if (!r.annotations?.description?.trim()) out.push(`${r.alert}: no description`);
      if (/\$(?!labels|value)/.test(r.expr ?? '')) out.push(`${r.alert}: a Grafana variable in expr`);
      return out;
    });
    expect(problems).toEqual([]);
  });

  it('are each explained in docs/OBSERVABILITY.md', () => {
    const guide = readFileSync(path.join(ROOT, 'docs', 'OBSERVABILITY.md'), 'utf8');
    for (const rule of alertRules) expect(guide).toContain(`### ${rule.alert}`);
  });
});

describe('PromQL syntax', () => {
  it('passes the light check: closed strings, balanced brackets, well-formed matchers and ranges', () => {
    expect(lightPromqlProblems('sum(rate(x{a=""}[5m])')).toContain('unclosed "("');
    expect(lightPromqlProblems('rate(x{}[5m])')).toContain('empty label matcher {}');
    expect(lightPromqlProblems('rate(x{a=}[5m])')).toContain('malformed label matcher "a="');
    expect(lightPromqlProblems('rate(x[five])')).toContain('bad range "[five]"');
    const problems = [...dashboardExprs, ...alertExprs].flatMap(({ where, expr }) => lightPromqlProblems(expr).map((p) => `${where}: ${p}`));
    expect(problems).toEqual([]);
  });

  (hasPromtool ? it : it.skip)('promtool accepts the alerting rules and their unit tests pass', () => {
    const check = promtool(['check', 'rules', ALERTS_FILE]);
    expect(check.output).toContain('SUCCESS');
    expect(check.ok).toBe(true);
    const unit = promtool(['test', 'rules', ALERT_TESTS_FILE]);
    expect(unit.output).toContain('SUCCESS');
    expect(unit.ok).toBe(true);
  });

  (hasPromtool ? it : it.skip)("promtool parses every dashboard query (Grafana's variables filled in)", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'durasync-docs-'));
    try {
      const file = path.join(dir, 'dashboard-queries.yml');
      const rules = dashboardExprs.map(({ expr }, i) => ({ record: `durasync:dashboard_query:${i}`, expr: withGrafanaVariables(expr) }));
      writeFileSync(file, stringifyYaml({ groups: [{ name: 'dashboard', rules }] }));
      const check = promtool(['check', 'rules', file]);
      expect(check.output).toContain(`SUCCESS: ${rules.length} rules found`);
      expect(check.ok).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
