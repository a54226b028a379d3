import { startDriveEmulator, type DriveEmulator } from '../../emulators/drive';
import { GoogleAuthorization } from '../../emulators/drive/authorize';
import { createPkce } from '../../lib/oauth/pkce';

const CLIENT = { clientId: 'cli-app.apps.googleusercontent.com', clientSecret: 'GOCSPX-emu' };
const REDIRECT = 'http://127.0.0.1:45678/oauth2callback';

let emu: DriveEmulator;

beforeEach(async () => {
  emu = await startDriveEmulator({ oauthClients: [CLIENT], user: { email: 'ada@example.com' } });
});

afterEach(async () => {
  await emu.close();
});

function authorizeUrl(params: Record<string, string | undefined>): string {
  const url = new URL(emu.authUrl);
  const all = { client_id: CLIENT.clientId, redirect_uri: REDIRECT, response_type: 'code', scope: 'https://www.googleapis.com/auth/drive', state: 's1', access_type: 'offline', ...params };
  for (const [k, v] of Object.entries(all)) if (v !== undefined) url.searchParams.set(k, v);
  return url.toString();
}

/** Plays the user: opens the consent page and presses a button; returns the redirect's query. */
async function consent(url: string, decision: 'allow' | 'deny'): Promise<URLSearchParams> {
  const page = await fetch(url);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain('durasync-demo wants to access your Google Drive');
  expect(html).toContain('ada@example.com');
  const id = /name="consent" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const answer = await fetch(emu.authUrl, { method: 'POST', body: new URLSearchParams({ consent: id, decision }), redirect: 'manual' });
  expect(answer.status).toBe(302);
  const location = new URL(answer.headers.get('location') ?? '');
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
  return location.searchParams;
}

async function exchange(fields: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(emu.tokenUrl, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'authorization_code', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, redirect_uri: REDIRECT, ...fields }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('the Drive emulator as Google authorization server', () => {
  it('issues a code for Allow and exchanges it once, with the PKCE verifier, for tokens that open Drive and refresh', async () => {
    const pkce = createPkce();
    const query = await consent(authorizeUrl({ code_challenge: pkce.challenge, code_challenge_method: 'S256' }), 'allow');
    expect(query.get('state')).toBe('s1');
    const code = query.get('code') ?? '';

    const first = await exchange({ code, code_verifier: pkce.verifier });
    expect(first).toMatchObject({ status: 200, body: { token_type: 'Bearer', expires_in: 3599, scope: 'https://www.googleapis.com/auth/drive' } });
    const { access_token: access, refresh_token: refresh } = first.body as { access_token: string; refresh_token: string };
    expect(refresh).toMatch(/^1\/\//);
    const about = await fetch(`${emu.url}drive/v3/about?fields=user`, { headers: { authorization: `Bearer ${access}` } });
    expect(await about.json()).toMatchObject({ user: { emailAddress: 'ada@example.com', me: true } });
    const refreshed = await fetch(emu.tokenUrl, { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, refresh_token: refresh }) });
    expect(refreshed.status).toBe(200);

    expect(await exchange({ code, code_verifier: pkce.verifier })).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: 'Bad Request' } });
  });

  it('refuses a wrong or missing code verifier with invalid_grant', async () => {
    const pkce = createPkce();
    const wrong = await consent(authorizeUrl({ code_challenge: pkce.challenge, code_challenge_method: 'S256' }), 'allow');
    expect(await exchange({ code: wrong.get('code') ?? '', code_verifier: createPkce().verifier })).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: 'Invalid code verifier.' } });
    const missing = await consent(authorizeUrl({ code_challenge: pkce.challenge, code_challenge_method: 'S256' }), 'allow');
    expect(await exchange({ code: missing.get('code') ?? '' })).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: 'Missing code verifier.' } });
    expect(await exchange({ code: 'not-a-code', code_verifier: pkce.verifier })).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: 'Malformed auth code.' } });
  });

  it('refuses a redirect_uri other than the authorization request one, and a wrong client secret', async () => {
    const pkce = createPkce();
    const query = await consent(authorizeUrl({ code_challenge: pkce.challenge, code_challenge_method: 'S256' }), 'allow');
    expect(await exchange({ code: query.get('code') ?? '', code_verifier: pkce.verifier, client_secret: 'nope' })).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(await exchange({ code: query.get('code') ?? '', code_verifier: pkce.verifier, redirect_uri: 'http://127.0.0.1:1/other' })).toMatchObject({ status: 400, body: { error: 'redirect_uri_mismatch' } });
  });

  it('redirects a denial with error=access_denied and the state', async () => {
    const query = await consent(authorizeUrl({}), 'deny');
    expect(Object.fromEntries(query)).toEqual({ error: 'access_denied', state: 's1' });
  });

  it.each([
    ['an unknown client', { client_id: 'other' }, 401, 'invalid_client'],
    ['a redirect_uri that is not loopback', { redirect_uri: 'https://evil.example/cb' }, 400, 'redirect_uri_mismatch'],
    ['a loopback redirect_uri without a port', { redirect_uri: 'http://127.0.0.1/cb' }, 400, 'redirect_uri_mismatch'],
    ['a missing response_type', { response_type: undefined }, 400, 'invalid_request'],
    ['a code_challenge_method other than S256 or plain', { code_challenge: 'x'.repeat(43), code_challenge_method: 'S512' }, 400, 'invalid_request'],
  ])('answers an error page for %s', async (_name, params, status, error) => {
    const res = await fetch(authorizeUrl(params), { redirect: 'manual' });
    expect(res.status).toBe(status);
    expect(await res.text()).toContain(`Error ${status}: ${error}`);
  });

  it('restores its registered clients from a JSON snapshot, so that persistence can save them', () => {
    const a = new GoogleAuthorization({ email: 'x@example.com' });
    a.addClient(CLIENT);
    const b = new GoogleAuthorization({ email: 'x@example.com' });
    b.restore(JSON.parse(JSON.stringify(a.snapshot())) as ReturnType<typeof a.snapshot>);
    expect(b.snapshot()).toEqual({ clients: [CLIENT], pending: [], codes: [] });
    expect(b.redeem(new URLSearchParams({ client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, code: 'x' }))).toMatchObject({ error: 'invalid_grant' });
  });
});
