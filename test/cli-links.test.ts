import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from './helpers/db';
import { runDurasync } from './helpers/process';

/** `durasync links` against a real Postgres database. */
describe('durasync links', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('creates a link once, lists it and shows it, as lines and as JSON', async () => {
    const env = { DATABASE_URL: db.url };
    const folder = `folder-${randomUUID()}`;
    const created = await runDurasync(['--json', 'links', 'create', '--drive-folder', folder, '--repo', 'acme/notes', '--user', 'u1', '--path', '/docs/', '--conflicts', 'drive-wins'], env);
    expect(created.code).toBe(0);
    const body = JSON.parse(created.output.slice(created.output.indexOf('{'))) as { created: boolean; link: { id: string; githubPath: string; conflictPolicy: string; direction: string } };
    expect(body).toMatchObject({ created: true, link: { githubPath: 'docs', conflictPolicy: 'drive-wins', direction: 'both' } });

    const again = await runDurasync(['links', 'create', '--drive-folder', folder, '--repo', 'acme/notes', '--user', 'u1', '--path', 'docs'], env);
    expect(again.code).toBe(0);
    expect(again.output).toContain('exists already');
    expect(again.output).toContain(body.link.id);

    const list = await runDurasync(['links', 'list'], env);
    expect(list.output).toContain(`${body.link.id}  drive:${folder} <-> github:acme/notes@main/docs`);
    const show = await runDurasync(['--json', 'links', 'show', body.link.id], env);
    expect((JSON.parse(show.output.slice(show.output.indexOf('{'))) as { link: { id: string } }).link.id).toBe(body.link.id);
  });

  it('pauses and resumes a link, with a reason shown by links show', async () => {
    const env = { DATABASE_URL: db.url };
    const created = await runDurasync(['--json', 'links', 'create', '--drive-folder', `folder-${randomUUID()}`, '--repo', 'acme/notes', '--user', 'u1'], env);
    const id = (JSON.parse(created.output.slice(created.output.indexOf('{'))) as { link: { id: string } }).link.id;
    const paused = await runDurasync(['links', 'pause', id, '--reason', 'repository migration'], env);
    expect(paused.code).toBe(0);
    expect((await runDurasync(['links', 'show', id], env)).output).toContain('paused (repository migration)');
    const resumed = await runDurasync(['--json', 'links', 'resume', id], env);
    expect(JSON.parse(resumed.output.slice(resumed.output.indexOf('{')))).toMatchObject({ link: { id, status: 'active', statusReason: null } });
    expect((await runDurasync(['links', 'resume', randomUUID()], env)).code).toBe(3);
  });

  it('exits 3 for an unknown link and 2 for bad values, naming them', async () => {
    const env = { DATABASE_URL: db.url };
    expect((await runDurasync(['links', 'show', randomUUID()], env)).code).toBe(3);
    const badId = await runDurasync(['links', 'show', 'nope'], env);
    expect(badId.code).toBe(2);
    expect(badId.output).toContain('linkId: expected a link id');
    const badRepo = await runDurasync(['links', 'create', '--drive-folder', 'f', '--repo', 'not a repo', '--user', 'u'], env);
    expect(badRepo.code).toBe(2);
    expect(badRepo.output).toContain('--repo: expected owner/name');
  });
});
