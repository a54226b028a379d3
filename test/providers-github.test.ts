import { startGithubEmulator, type GithubEmulator } from '../emulators/github/server';
import { providerFailure } from '../lib/providers/failures';
import { createGithubClient } from '../lib/providers/github';

/** The product's GitHub client against the emulator, failures classified by the activity-edge mapping. */
describe('GitHub client', () => {
  let gh: GithubEmulator;

  beforeAll(async () => {
    gh = await startGithubEmulator();
    gh.seed.token('ghs_test', { repos: ['acme/notes'] });
    gh.seed.repo('acme/notes', { defaultBranch: 'main', files: { 'README.md': '# notes\n' } });
  });

  afterAll(async () => {
    await gh?.close();
  });

  it('reads a repository and maps a secondary rate limit to a retryable failure with the Retry-After delay', async () => {
    const client = createGithubClient('ghs_test', { baseUrl: gh.url });
    expect((await client.repos.get({ owner: 'acme', repo: 'notes' })).data.default_branch).toBe('main');

    gh.faults.set({ secondaryLimit: { count: 1, retryAfterSec: 9 } });
    const failure = await client.repos.get({ owner: 'acme', repo: 'notes' }).then(
      () => undefined,
      (err: unknown) => providerFailure('github', 'repos.get', err),
    );
    expect(failure).toMatchObject({ type: 'RateLimited', nonRetryable: false, nextRetryDelay: 9000 });
  });

  it('maps bad credentials to a non-retryable Unauthorized failure', async () => {
    const failure = await createGithubClient('ghs_wrong', { baseUrl: gh.url })
      .repos.get({ owner: 'acme', repo: 'notes' })
      .then(() => undefined, (err: unknown) => providerFailure('github', 'repos.get', err));
    expect(failure).toMatchObject({ type: 'Unauthorized', nonRetryable: true });
  });
});
