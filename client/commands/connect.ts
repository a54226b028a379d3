import type { Command } from 'commander';
import { createCache } from '../../lib/cache';
import { createStore } from '../../lib/db/store';
import { parseDuration } from '../../lib/duration';
import { ConnectError } from '../../lib/oauth/errors';
import { TokenService, type RefreshedToken } from '../../lib/tokens/token-service';
import type * as GoogleFlowModule from '../../lib/oauth/google-code-flow';
import type * as GithubFlowModule from '../../lib/oauth/github-device-flow';
import type * as GoogleModule from '../../lib/providers/google';
import type * as GithubModule from '../../lib/providers/github';
import { ConfigError } from '../../lib/errors';
import { command, EXIT, ExitError, print, UsageError, type CommandContext } from './context';

/*
 * `durasync connect google|github --user <id>`: runs the provider's OAuth flow as command-line
 * tools do (Google: authorization code + PKCE + a loopback redirect; GitHub: the device flow) and
 * stores the tokens sealed in provider_tokens under the durasync user id, where the sync reads them.
 * The provider SDKs (googleapis, Octokit) load in the action only, as the other commands' heavy parts.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const load = {
  googleFlow: () => require('../../lib/oauth/google-code-flow') as typeof GoogleFlowModule,
  githubFlow: () => require('../../lib/oauth/github-device-flow') as typeof GithubFlowModule,
  google: () => require('../../lib/providers/google') as typeof GoogleModule,
  github: () => require('../../lib/providers/github') as typeof GithubModule,
};
/* eslint-enable @typescript-eslint/no-require-imports */

interface ConnectFlags {
  user: string;
  timeout: string;
}

/** What a provider's connect does: run the flow, then name the account the token belongs to. */
interface Connector {
  /** Variables it cannot run without, checked before anything starts. */
  required(ctx: CommandContext): Record<string, string | undefined>;
  flow(ctx: CommandContext, flags: ConnectFlags, timeoutMs: number): Promise<RefreshedToken>;
  account(ctx: CommandContext, accessToken: string): Promise<string>;
  label: string;
}

const say = (line: string) => void process.stderr.write(`${line}\n`);

const CONNECTORS: Record<'google' | 'github', Connector> = {
  google: {
    label: 'Google',
    required: ({ config }) => ({ GOOGLE_CLIENT_ID: config.providers.google.clientId || undefined }),
    flow: ({ config }, flags, timeoutMs) =>
      load.googleFlow().runGoogleCodeFlow({
        google: config.providers.google,
        timeoutMs,
        timeoutMessage: `no answer from the browser within ${flags.timeout}; run it again`,
        onUrl: (url) => {
          say(`Open this URL in a browser to connect Google Drive for durasync user ${flags.user}:`);
          say(url);
        },
      }),
    async account({ config }, accessToken) {
      const drive = load.google().createDriveClient(accessToken, { rootUrl: config.providers.google.rootUrl });
      const { data } = await drive.about.get({ fields: 'user' });
      return data.user?.emailAddress ?? data.user?.displayName ?? '(unknown account)';
    },
  },
  github: {
    label: 'GitHub',
    required: ({ config }) => ({ GITHUB_CLIENT_ID: config.providers.github.clientId }),
    flow: ({ config }, flags, timeoutMs) =>
      load.githubFlow().runGithubDeviceFlow({
        oauthUrl: config.providers.github.oauthUrl,
        clientId: config.providers.github.clientId ?? '',
        timeoutMs,
        timeoutMessage: `the code was not entered within ${flags.timeout}; run it again`,
        onCode: ({ verificationUri, userCode }) => say(`Open ${verificationUri} and enter the code ${userCode} to connect GitHub for durasync user ${flags.user}`),
      }),
    async account({ config }, accessToken) {
      const github = load.github().createGithubClient(accessToken, { baseUrl: config.providers.github.baseUrl });
      return (await github.rest.users.getAuthenticated()).data.login;
    },
  },
};

async function connect(ctx: CommandContext, provider: keyof typeof CONNECTORS, flags: ConnectFlags): Promise<void> {
  const connector = CONNECTORS[provider];
  const timeoutMs = parseDuration(flags.timeout);
  if (!timeoutMs) throw new UsageError(`--timeout: expected a duration such as 5m, 90s or 2m, got "${flags.timeout}"`);
  const missing = Object.entries({ ...connector.required(ctx), DURASYNC_TOKEN_KEY: ctx.config.tokens.keys ? 'set' : undefined }).find(([, value]) => !value)?.[0];
  if (missing) throw new ConfigError(missing, `required by connect ${provider}`);
  const { database } = ctx.config;
  if (!database.url && !database.supabase) throw new ConfigError('DATABASE_URL', 'required by connect (the tokens are stored in provider_tokens)');

  // Failures end as their message alone: provider client errors carry requests (codes, verifiers, tokens) that must not reach a log.
  const oneLine = (what: string) => (err: unknown): never => {
    throw new ExitError(err instanceof ConnectError ? err.message : `${what}: ${(err as Error).message}`, EXIT.FAILURE);
  };
  const token = await connector.flow(ctx, flags, timeoutMs).catch(oneLine(`the ${connector.label} authorization failed`));
  const account = await connector.account(ctx, token.accessToken).catch(oneLine(`the new ${connector.label} token did not work`));
  const store = createStore({ databaseUrl: database.url, supabase: database.supabase, logger: ctx.logger, poolMax: 1 });
  // The shared cache when there is one: a reconnect replaces whatever token the workers cached.
  const cache = createCache({ url: ctx.config.redis.url, keyPrefix: ctx.config.redis.keyPrefix, logger: ctx.logger });
  try {
    const tokens = new TokenService({ store, cache, keys: ctx.config.tokens.keys!, refresher: { refresh: () => Promise.reject(new Error('connect does not refresh')) } });
    await tokens.save(provider, flags.user, token);
  } finally {
    await cache.close();
    await store.close();
  }
  const expires = token.expiresAt ? `, expires ${token.expiresAt.toISOString()}${token.refreshToken ? ', refreshable' : ''}` : '';
  print(ctx, { provider, user: flags.user, account, expiresAt: token.expiresAt, refreshable: token.refreshToken !== undefined }, () => [
    `connected ${connector.label} account ${account} to durasync user ${flags.user}${expires}`,
  ]);
}

export function registerConnectCommands(program: Command): void {
  const group = program.command('connect').description("connect a user's Google or GitHub account: runs the OAuth flow and stores the tokens (sealed) for the sync");
  for (const [provider, description] of [
    ['google', 'authorise Google Drive in a browser (authorization code with PKCE, loopback redirect on 127.0.0.1)'],
    ['github', 'authorise GitHub with a code entered at github.com/login/device (device flow)'],
  ] as const) {
    group
      .command(provider)
      .description(description)
      .requiredOption('--user <id>', 'the durasync user the tokens are stored for (links take it as --user)')
      .option('--timeout <duration>', 'give up when the flow has not completed by then', '5m')
      .action(command(`connect ${provider}`, (ctx, flags: ConnectFlags) => connect(ctx, provider, flags)));
  }
}
