import { DOCS, validationFailed } from './errors';
import type { ValidationErrorItem } from './errors';
import { nowIso } from './shapes';

/** Repository webhooks as GitHub keeps and shows them (`/repos/{owner}/{repo}/hooks`). */

export interface HookConfig {
  url: string;
  /** `json` (the default) or `form` (`payload=<json>`, form-encoded). */
  contentType: 'json' | 'form';
  /** Signs deliveries when set; never shown (GitHub answers `********`). */
  secret?: string;
  /** `'0'` verifies TLS certificates (the default), `'1'` does not. */
  insecureSsl: '0' | '1';
}

/** One attempt to deliver an event to a hook, kept with what was sent for a redelivery. */
export interface DeliveryRecord {
  id: number;
  /** The `X-GitHub-Delivery` UUID, shared by a delivery and its redeliveries. */
  guid: string;
  deliveredAt: string;
  redelivery: boolean;
  /** Seconds from the request to its answer. */
  duration: number;
  /** `OK`, `Invalid HTTP Response: 404`, `timed out`... */
  status: string;
  /** The answer's status; 0 when there was none. */
  statusCode: number;
  event: string;
  action: string | null;
  request: { headers: Record<string, string>; body: string };
  response: { headers: Record<string, string>; body: string };
}

export interface HookState {
  id: number;
  active: boolean;
  events: string[];
  config: HookConfig;
  createdAt: string;
  updatedAt: string;
  lastResponse: { code: number | null; status: string; message: string | null };
  /** Oldest first. */
  deliveries: DeliveryRecord[];
}

/** The events a repository webhook can subscribe to (GitHub's list), and `*` for all of them. */
export const HOOK_EVENTS: ReadonlySet<string> = new Set([
  '*', 'branch_protection_configuration', 'branch_protection_rule', 'check_run', 'check_suite', 'code_scanning_alert',
  'commit_comment', 'create', 'custom_property_values', 'delete', 'dependabot_alert', 'deploy_key', 'deployment',
  'deployment_protection_rule', 'deployment_review', 'deployment_status', 'discussion', 'discussion_comment', 'fork',
  'gollum', 'issue_comment', 'issues', 'label', 'member', 'merge_group', 'meta', 'milestone', 'package', 'page_build',
  'ping', 'project', 'project_card', 'project_column', 'public', 'pull_request', 'pull_request_review',
  'pull_request_review_comment', 'pull_request_review_thread', 'push', 'registry_package', 'release',
  'repository', 'repository_advisory', 'repository_dispatch', 'repository_import', 'repository_ruleset',
  'repository_vulnerability_alert', 'secret_scanning_alert', 'secret_scanning_alert_location', 'security_advisory',
  'security_and_analysis', 'sponsorship', 'star', 'status', 'team_add', 'watch', 'workflow_dispatch', 'workflow_job', 'workflow_run',
]);

const invalid = (field: string, message: string): ValidationErrorItem => ({ resource: 'Hook', field, code: 'invalid', message });
const custom = (message: string): ValidationErrorItem => ({ resource: 'Hook', field: '', code: 'custom', message });

/** `events`, `add_events`, `remove_events`: a list of known event names. */
export function parseEvents(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || !value.every((e) => typeof e === 'string')) throw validationFailed(DOCS.hooks, invalid(field, `${field} must be an array of strings`));
  const unknown = value.find((e) => !HOOK_EVENTS.has(e));
  if (unknown !== undefined) throw validationFailed(DOCS.hooks, invalid(field, `Invalid event: ${JSON.stringify(unknown)}`));
  return [...new Set(value)];
}

/**
 * A hook's `config` as a create or update gives it, over `current` (an update changes only the keys
 * it names). GitHub's 422s: no url, a url that is not http(s), a content type other than json/form.
 * Unlike GitHub, a localhost url is accepted: the emulator delivers on this machine.
 */
export function parseConfig(value: unknown, current?: HookConfig): HookConfig {
  if (value === undefined && current) return current;
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw validationFailed(DOCS.hooks, custom('Config must contain URL for webhooks'));
  const c = value as Record<string, unknown>;
  const url = c.url ?? current?.url;
  if (typeof url !== 'string' || url === '') throw validationFailed(DOCS.hooks, custom('Config must contain URL for webhooks'));
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !['http:', 'https:'].includes(parsed.protocol)) {
    throw validationFailed(DOCS.hooks, custom("The URL you've entered is not valid. Please make sure that you encode all special characters first"));
  }
  const contentType = c.content_type ?? current?.contentType ?? 'json';
  if (contentType !== 'json' && contentType !== 'form') throw validationFailed(DOCS.hooks, invalid('content_type', 'content_type must be json or form'));
  const insecure = c.insecure_ssl ?? current?.insecureSsl ?? '0';
  if (!['0', '1', 0, 1].includes(insecure as string)) throw validationFailed(DOCS.hooks, invalid('insecure_ssl', 'insecure_ssl must be 0 or 1'));
  const secret = c.secret === undefined ? current?.secret : c.secret;
  if (secret !== undefined && secret !== null && typeof secret !== 'string') throw validationFailed(DOCS.hooks, invalid('secret', 'secret must be a string'));
  return { url, contentType, insecureSsl: insecure === 1 || insecure === '1' ? '1' : '0', ...(secret ? { secret } : {}) };
}

/** A new hook from a `POST /hooks` body (`name` must be `web`; `events` default `['push']`; `active` default true). */
export function newHook(id: number, body: Record<string, unknown>, existing: readonly HookState[]): HookState {
  if (body.name !== undefined && body.name !== 'web') throw validationFailed(DOCS.hooks, { resource: 'Hook', field: 'name', code: 'invalid' });
  const config = parseConfig(body.config);
  const events = body.events === undefined ? ['push'] : parseEvents(body.events, 'events');
  if (body.active !== undefined && typeof body.active !== 'boolean') throw validationFailed(DOCS.hooks, invalid('active', 'active must be a boolean'));
  const same = (h: HookState) => h.config.url === config.url && [...h.events].sort().join() === [...events].sort().join();
  if (existing.some(same)) throw validationFailed(DOCS.hooks, custom('Hook already exists on this repository'));
  const now = nowIso();
  return { id, active: body.active ?? true, events, config, createdAt: now, updatedAt: now, lastResponse: { code: null, status: 'unused', message: null }, deliveries: [] };
}

/** Applies a `PATCH /hooks/{id}` body: config keys, events (or add_events/remove_events), active. */
export function updateHook(hook: HookState, body: Record<string, unknown>): void {
  const config = parseConfig(body.config, hook.config);
  let events = body.events === undefined ? hook.events : parseEvents(body.events, 'events');
  if (body.add_events !== undefined) events = [...new Set([...events, ...parseEvents(body.add_events, 'add_events')])];
  if (body.remove_events !== undefined) {
    const removed = new Set(parseEvents(body.remove_events, 'remove_events'));
    events = events.filter((e) => !removed.has(e));
  }
  if (body.active !== undefined && typeof body.active !== 'boolean') throw validationFailed(DOCS.hooks, invalid('active', 'active must be a boolean'));
  Object.assign(hook, { config, events, active: body.active ?? hook.active, updatedAt: nowIso() });
}

/** Whether the hook takes an event: active, and subscribed to it (or to `*`); `ping` always. */
export function subscribed(hook: HookState, event: string): boolean {
  return hook.active && (event === 'ping' || hook.events.includes('*') || hook.events.includes(event));
}

export function hookJson(repoApi: string, hook: HookState): Record<string, unknown> {
  const url = `${repoApi}/hooks/${hook.id}`;
  return {
    type: 'Repository',
    id: hook.id,
    name: 'web',
    active: hook.active,
    events: [...hook.events],
    config: {
      content_type: hook.config.contentType,
      insecure_ssl: hook.config.insecureSsl,
      url: hook.config.url,
      ...(hook.config.secret ? { secret: '********' } : {}),
    },
    updated_at: hook.updatedAt,
    created_at: hook.createdAt,
    url,
    test_url: `${url}/test`,
    ping_url: `${url}/pings`,
    deliveries_url: `${url}/deliveries`,
    last_response: { ...hook.lastResponse },
  };
}

/** A delivery as `GET /hooks/{id}/deliveries` lists it; `full` adds the request and response, as the single-delivery route does. */
export function deliveryJson(repoId: number, d: DeliveryRecord, full?: { url: string }): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: d.id,
    guid: d.guid,
    delivered_at: d.deliveredAt,
    redelivery: d.redelivery,
    duration: d.duration,
    status: d.status,
    status_code: d.statusCode,
    event: d.event,
    action: d.action,
    installation_id: null,
    repository_id: repoId,
    throttled_at: null,
  };
  if (!full) return json;
  const parse = (text: string): unknown => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  };
  return { ...json, url: full.url, request: { headers: { ...d.request.headers }, payload: parse(d.request.body) }, response: { headers: { ...d.response.headers }, payload: d.response.body } };
}
