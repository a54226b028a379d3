import { createClient } from '@supabase/supabase-js';
import { Client } from 'pg';
import { startSupabaseEmulator, type SupabaseEmulator } from '../../emulators/supabase/server';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

const KEY = 'emulator-test-service-key';

/** Functions of every return shape and error the emulator must reproduce as PostgREST does. */
const FIXTURES = `
  create function emu_add(p_a int, p_b int default 10) returns int language sql as $$ select p_a + p_b $$;
  create function emu_touch(p_note text) returns void language plpgsql as $$ begin perform p_note; end $$;
  create function emu_series(p_n int) returns setof int language sql as $$ select generate_series(1, p_n) $$;
  create function emu_rows(p_n int) returns table (n int, label text, big bigint, at timestamptz, doc jsonb)
    language sql as $$
      select i, 'row ' || i, 9007199254740993, timestamptz '2026-01-02 03:04:05.678901+00', jsonb_build_object('i', i)
        from generate_series(1, p_n) i $$;
  create type emu_pair as (left_side text, right_side text);
  create function emu_pair(p_left text, p_right text) returns emu_pair language sql as $$ select (p_left, p_right)::emu_pair $$;
  create function emu_raise() returns int language plpgsql as $$
    begin raise exception 'nope' using detail = 'some detail', hint = 'some hint'; end $$;
  create table emu_unique (k text primary key);
  create function emu_insert(p_k text) returns void language sql as $$ insert into emu_unique values (p_k) $$;
  create function emu_teapot() returns int language plpgsql as $$ begin raise sqlstate 'PT418' using message = 'short and stout'; end $$;
`;

describe('Supabase emulator (PostgREST RPC over HTTP)', () => {
  let db: TestDatabase;
  let emulator: SupabaseEmulator;

  beforeAll(async () => {
    db = await createTestDatabase();
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(FIXTURES);
    } finally {
      await client.end();
    }
    emulator = await startSupabaseEmulator({ databaseUrl: db.url, serviceKey: KEY });
  });
  afterAll(async () => {
    await emulator?.close();
    await db?.drop();
  });

  const rpc = (fn: string, body: unknown, headers: Record<string, string> = { apikey: KEY, Authorization: `Bearer ${KEY}` }) =>
    fetch(`${emulator.url}/rest/v1/rpc/${fn}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  it('answers 401 with PostgREST error bodies when the service key is missing or wrong', async () => {
    const missing = await rpc('emu_add', { p_a: 1 }, {});
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect(await missing.json()).toEqual({ code: 'PGRST302', details: null, hint: null, message: 'Anonymous access is disabled' });

    const wrong = await rpc('emu_add', { p_a: 1 }, { apikey: 'anon-key', Authorization: 'Bearer anon-key' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    expect(await wrong.json()).toEqual({ code: 'PGRST301', details: null, hint: null, message: 'JWT cryptographic operation failed' });

    const bearerOnly = await rpc('emu_add', { p_a: 1 }, { Authorization: `Bearer ${KEY}` });
    expect(bearerOnly.status).toBe(401);
  });

  it('answers 404 PGRST202 for an unknown function or unknown argument names', async () => {
    const unknown = await rpc('no_such_fn', { p_b: 1, p_a: 2 });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      code: 'PGRST202',
      details:
        'Searched for the function public.no_such_fn with parameters p_a, p_b or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.',
      hint: null,
      message: 'Could not find the function public.no_such_fn(p_a, p_b) in the schema cache',
    });

    const noArgs = await rpc('no_such_fn', {});
    expect(((await noArgs.json()) as { message: string }).message).toBe('Could not find the function public.no_such_fn without parameters in the schema cache');

    const wrongArgs = await rpc('emu_add', { p_a: 1, p_c: 2 });
    expect(wrongArgs.status).toBe(404);
    expect(((await wrongArgs.json()) as { code: string }).code).toBe('PGRST202');
    expect((await rpc('emu_add', { p_b: 2 })).status).toBe(404); // p_a is required
  });

  it('returns a scalar as its JSON value, applying argument defaults', async () => {
    const res = await rpc('emu_add', { p_a: 2 });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await res.text()).toBe('12');
    expect(await (await rpc('emu_add', { p_a: 2, p_b: 3 })).json()).toBe(5);
  });

  it('returns 204 with no body for a void function', async () => {
    const res = await rpc('emu_touch', { p_note: 'x' });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
  });

  it('returns arrays for set-returning functions and an object for a composite', async () => {
    expect(await (await rpc('emu_series', { p_n: 3 })).json()).toEqual([1, 2, 3]);
    expect(await (await rpc('emu_series', { p_n: 0 })).json()).toEqual([]);

    const rows = await rpc('emu_rows', { p_n: 2 });
    expect(rows.headers.get('content-range')).toBe('0-1/*');
    const text = await rows.text();
    expect(text).toContain('9007199254740993'); // int8 digits kept exactly, as PostgREST does
    expect(JSON.parse(text)).toEqual([
      { n: 1, label: 'row 1', big: 9007199254740992, at: '2026-01-02T03:04:05.678901+00:00', doc: { i: 1 } },
      { n: 2, label: 'row 2', big: 9007199254740992, at: '2026-01-02T03:04:05.678901+00:00', doc: { i: 2 } },
    ]);

    expect(await (await rpc('emu_pair', { p_left: 'l', p_right: 'r' })).json()).toEqual({ left_side: 'l', right_side: 'r' });
  });

  it('maps SQL errors to PostgREST bodies and statuses: P0001 400, 23505 409, PTxyz xyz, 22P02 400', async () => {
    const raised = await rpc('emu_raise', {});
    expect(raised.status).toBe(400);
    expect(await raised.json()).toEqual({ code: 'P0001', details: 'some detail', hint: 'some hint', message: 'nope' });

    expect((await rpc('emu_insert', { p_k: 'a' })).status).toBe(204);
    const duplicate = await rpc('emu_insert', { p_k: 'a' });
    expect(duplicate.status).toBe(409);
    expect(await duplicate.json()).toMatchObject({ code: '23505', hint: null });

    const teapot = await rpc('emu_teapot', {});
    expect(teapot.status).toBe(418);
    expect(await teapot.json()).toMatchObject({ code: 'PT418', message: 'short and stout' });

    const badInput = await rpc('emu_add', { p_a: 'one' });
    expect(badInput.status).toBe(400);
    expect(await badInput.json()).toMatchObject({ code: '22P02' });
  });

  it('runs GET calls with query-string arguments in a read-only transaction', async () => {
    const headers = { apikey: KEY, Authorization: `Bearer ${KEY}` };
    const sum = await fetch(`${emulator.url}/rest/v1/rpc/emu_add?p_a=2&p_b=5`, { headers });
    expect(await sum.json()).toBe(7);
    const write = await fetch(`${emulator.url}/rest/v1/rpc/emu_insert?p_k=get`, { headers });
    expect(write.status).toBe(405);
    expect(await write.json()).toMatchObject({ code: '25006' });
  });

  it('serves supabase-js .rpc() with the same results', async () => {
    const supabase = createClient(emulator.url, KEY, { auth: { persistSession: false, autoRefreshToken: false } });
    expect(await supabase.rpc('emu_add', { p_a: 1, p_b: 1 })).toMatchObject({ data: 2, error: null, status: 200 });
    expect(await supabase.rpc('emu_touch', { p_note: 'y' })).toMatchObject({ data: null, error: null, status: 204 });
    expect(await supabase.rpc('nope', {})).toMatchObject({ data: null, status: 404, error: { code: 'PGRST202' } });
    const anon = createClient(emulator.url, 'anon-key', { auth: { persistSession: false, autoRefreshToken: false } });
    expect(await anon.rpc('emu_add', { p_a: 1 })).toMatchObject({ status: 401, error: { code: 'PGRST301' } });
  });
});
