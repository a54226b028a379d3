import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { SearchAttributeType } from '@temporalio/common';
import { DURASYNC_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

/**
 * docker-compose.temporal.yml is never run on CI (no Docker engine), so this suite checks what
 * breaks a compose file silently: unpinned images, depends_on targets that do not exist or wait on
 * nothing, volumes and mounts that point nowhere, shell variables that compose would interpolate
 * away, and a list of search attributes that drifted from workflows/search-attributes.ts.
 */

const ROOT = path.resolve(__dirname, '..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.temporal.yml');

interface Healthcheck {
  test?: string | string[];
  disable?: boolean;
}
interface LongVolume {
  type?: string;
  source?: string;
  target?: string;
}
interface Service {
  image?: string;
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: Healthcheck;
  volumes?: (string | LongVolume)[];
  ports?: (string | number | { published?: string | number; target?: number })[];
  environment?: string[] | Record<string, string | number | boolean | null>;
  entrypoint?: string | string[];
  command?: string | string[];
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const compose = parse(readFileSync(COMPOSE_FILE, 'utf8')) as ComposeFile;
const services = Object.entries(compose.services);

/** Compose's `depends_on`, normalised: list form has no condition. */
function dependencies(service: Service): { target: string; condition: string | undefined }[] {
  const deps = service.depends_on ?? [];
  if (Array.isArray(deps)) return deps.map((target) => ({ target, condition: undefined }));
  return Object.entries(deps).map(([target, spec]) => ({ target, condition: spec?.condition }));
}

function environment(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const eq = entry.indexOf('=');
        return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value === null ? '' : String(value)]));
}

/** Volume entries as { kind, source, target }: short syntax `src:dst[:mode]` or the long form. */
function mounts(service: Service): { kind: 'bind' | 'volume' | 'anonymous'; source: string; target: string }[] {
  return (service.volumes ?? []).map((entry) => {
    if (typeof entry === 'string') {
      const [first = '', second] = entry.split(':');
      if (second === undefined) return { kind: 'anonymous' as const, source: '', target: first };
      const isPath = /^[./~]/.test(first);
      return { kind: isPath ? ('bind' as const) : ('volume' as const), source: first, target: second };
    }
    const kind = entry.type === 'bind' ? 'bind' : entry.source ? 'volume' : 'anonymous';
    return { kind, source: entry.source ?? '', target: entry.target ?? '' };
  });
}

/** Published host ports -> container ports, from `[ip:]host:container[/proto]`, numbers or long form. */
function publishedPorts(service: Service): { host: number; container: number }[] {
  return (service.ports ?? []).flatMap((entry) => {
    if (typeof entry === 'object') {
      return entry.published === undefined ? [] : [{ host: Number(entry.published), container: Number(entry.target) }];
    }
    const parts = String(entry).replace(/\/(tcp|udp)$/, '').split(':');
    if (parts.length < 2) return [];
    return [{ host: Number(parts[parts.length - 2]), container: Number(parts[parts.length - 1]) }];
  });
}

function scripts(service: Service): string[] {
  const pieces = [service.entrypoint, service.command, service.healthcheck?.test];
  return pieces.flatMap((piece) => (piece === undefined ? [] : Array.isArray(piece) ? piece : [piece]));
}

/** The CLI's spelling of each SDK search attribute type (`temporal operator search-attribute create --type`). */
const CLI_TYPE: Record<SearchAttributeType, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

describe('docker-compose.temporal.yml', () => {
  test('pins every image to an explicit tag that is not latest', () => {
    for (const [name, service] of services) {
      const image = service.image ?? '';
      const lastSegment = image.slice(image.lastIndexOf('/') + 1);
      const tag = lastSegment.includes(':') ? lastSegment.slice(lastSegment.indexOf(':') + 1) : '';
      expect({ service: name, image, pinned: /^[\w][\w.-]{0,127}$/.test(tag) && tag !== 'latest' }).toEqual({
        service: name,
        image,
        pinned: true,
      });
    }
  });

  test('runs the same Temporal version for the server and the admin tools that set up its schema', () => {
    const tagOf = (image: string): string => image.slice(image.lastIndexOf(':') + 1);
    const temporalImages = services
      .map(([, service]) => service.image ?? '')
      .filter((image) => /^temporalio\/(server|admin-tools):/.test(image));
    expect(temporalImages.length).toBeGreaterThanOrEqual(2);
    expect(new Set(temporalImages.map(tagOf)).size).toBe(1);
  });

  test('makes every depends_on point at an existing service with a condition', () => {
    const allowed = ['service_started', 'service_healthy', 'service_completed_successfully'];
    for (const [name, service] of services) {
      for (const { target, condition } of dependencies(service)) {
        expect({ service: name, target, exists: target in compose.services, condition }).toEqual({
          service: name,
          target,
          exists: true,
          condition: expect.stringMatching(new RegExp(`^(${allowed.join('|')})$`)) as unknown,
        });
      }
    }
  });

  test('gives a healthcheck to every service that another waits on as healthy', () => {
    const waitedOn = new Set(
      services.flatMap(([, service]) =>
        dependencies(service)
          .filter((dep) => dep.condition === 'service_healthy')
          .map((dep) => dep.target),
      ),
    );
    expect(waitedOn.size).toBeGreaterThan(0);
    for (const target of waitedOn) {
      const healthcheck = compose.services[target]?.healthcheck;
      expect({ target, hasHealthcheck: Boolean(healthcheck?.test) && healthcheck?.disable !== true }).toEqual({
        target,
        hasHealthcheck: true,
      });
    }
  });

  test('declares every named volume it uses', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const [name, service] of services) {
      for (const mount of mounts(service).filter((m) => m.kind === 'volume')) {
        expect({ service: name, volume: mount.source, declared: declared.includes(mount.source) }).toEqual({
          service: name,
          volume: mount.source,
          declared: true,
        });
      }
    }
  });

  test('mounts only host paths that exist in the repository', () => {
    const binds = services.flatMap(([name, service]) =>
      mounts(service)
        .filter((m) => m.kind === 'bind')
        .map((m) => ({ service: name, source: m.source })),
    );
    expect(binds.length).toBeGreaterThan(0);
    for (const { service, source } of binds) {
      expect(source.startsWith('.')).toBe(true); // relative to the compose file, so it works from any clone
      expect({ service, source, exists: existsSync(path.resolve(ROOT, source)) }).toEqual({ service, source, exists: true });
    }
  });

  test('points the server at a dynamic config file that exists in the mounted folder and parses', () => {
    const temporal = compose.services.temporal;
    expect(temporal).toBeDefined();
    const relative = environment(temporal ?? {}).DYNAMIC_CONFIG_FILE_PATH ?? '';
    expect(relative).not.toBe('');
    // The server image resolves DYNAMIC_CONFIG_FILE_PATH against /etc/temporal.
    const inContainer = path.posix.resolve('/etc/temporal', relative);
    const mount = mounts(temporal ?? {}).find((m) => m.kind === 'bind' && inContainer.startsWith(`${m.target}/`));
    expect(mount).toBeDefined();
    const onHost = path.resolve(ROOT, mount?.source ?? '', path.posix.relative(mount?.target ?? '', inContainer));
    expect(existsSync(onHost)).toBe(true);
    expect(() => parse(readFileSync(onHost, 'utf8')) as unknown).not.toThrow();
  });

  test('escapes every shell variable in commands so that compose does not interpolate it away', () => {
    for (const [name, service] of services) {
      for (const script of scripts(service)) {
        // `$$` is a literal `$` for compose; any `$` left after removing them would be interpolated
        // from the host's environment (usually to an empty string) before the shell sees it.
        const unescaped = script.replace(/\$\$/g, '').match(/\$[^\s]{0,20}/g) ?? [];
        expect({ service: name, unescaped }).toEqual({ service: name, unescaped: [] });
      }
    }
  });

  test('registers exactly the search attributes of workflows/search-attributes.ts, with their types', () => {
    const adminTools = compose.services['temporal-admin-tools'];
    expect(adminTools).toBeDefined();
    const registered = (environment(adminTools ?? {}).DURASYNC_SEARCH_ATTRIBUTES ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((pair) => {
        const [name, type] = pair.split('=');
        return { name, type };
      });
    const expected = DURASYNC_SEARCH_ATTRIBUTES.map((key) => ({ name: key.name, type: CLI_TYPE[key.type] }));
    expect(registered).toHaveLength(expected.length);
    expect(registered).toEqual(expect.arrayContaining(expected));

    // ...and the job really feeds that list to the CLI.
    const script = scripts(adminTools ?? {}).join('\n');
    expect(script).toContain('$$DURASYNC_SEARCH_ATTRIBUTES');
    expect(script).toMatch(/temporal operator search-attribute create [^\n]*--name "\$\$name" --type "\$\$type"/);
  });

  test('registers the search attributes only once the server is healthy', () => {
    const deps = dependencies(compose.services['temporal-admin-tools'] ?? {});
    expect(deps).toContainEqual({ target: 'temporal', condition: 'service_healthy' });
  });

  test('publishes the frontend on 7233 and the Web UI on 8233, as the dev server does', () => {
    const published = services.flatMap(([name, service]) => publishedPorts(service).map((p) => ({ service: name, ...p })));
    expect(published).toContainEqual({ service: 'temporal', host: 7233, container: 7233 });
    expect(published).toContainEqual({ service: 'temporal-ui', host: 8233, container: 8080 });
  });
});

describe('docker-compose.temporal.yml: durasync\'s own services', () => {
  const compose = parse(readFileSync(path.join(__dirname, '..', 'docker-compose.temporal.yml'), 'utf8')) as {
    services: Record<string, { image: string; ports?: string[]; healthcheck?: unknown }>;
  };

  it('runs a Postgres for the app and a Redis for the token cache, each with a healthcheck, on ports that avoid the host defaults', () => {
    for (const [name, port] of [['app-postgres', '55432:5432'], ['redis', '56379:6379']] as const) {
      const service = compose.services[name];
      expect(service).toBeDefined();
      expect(service!.healthcheck).toBeDefined();
      expect(service!.ports).toEqual([`127.0.0.1:${port}`]);
    }
  });
});
