/** What the demo workspace of `npm run dev` holds when it is seeded. */

/** The durasync user whose Google and GitHub tokens the demo link uses. */
export const DEMO_USER = 'demo';
export const DEMO_REPO = 'demo/notes';
export const DEMO_FOLDER = 'durasync demo';
export const DEMO_BRANCH = 'demo';
/** appProperties key marking what the seeding made in Drive, so a restart finds it instead of making it twice. */
export const DEMO_MARK = 'durasyncDemo';

export const DRIVE_FILES: Array<{ kind: 'doc' | 'file'; name: string; content: string; mimeType?: string }> = [
  {
    kind: 'doc',
    name: 'Project plan',
    content: '# Project plan\n\n- Sync this folder with GitHub\n- Watch the runs in the Temporal Web UI\n- Edit this document: `npx durasync demo edit`\n',
  },
  { kind: 'file', name: 'todo.md', content: '# To do\n\n- [x] Start durasync\n- [ ] Open http://localhost:8233\n', mimeType: 'text/markdown' },
  { kind: 'file', name: 'reading-list.txt', content: 'Temporal: workflows decide, activities act.\n', mimeType: 'text/plain' },
];

export const GITHUB_FILES: Record<string, string> = {
  'README.md': '# notes\n\nA repository kept in sync with the Google Drive folder "durasync demo".\n',
  'notes/welcome.md': '# Welcome\n\nPush here with `npx durasync demo push`; the next sync brings it to Drive.\n',
  'notes/temporal.md': '# Temporal\n\nEvery sync run is a workflow: open it in the Web UI to see its summary and details.\n',
};

/** A document of the demo branch's `notes` collection. */
export function demoChange(n: number, at: Date): { collection: string; documentId: string; op: 'insert' | 'update'; after: Record<string, unknown>; ts: string } {
  return {
    collection: 'notes',
    documentId: `note-${n % 50}`,
    op: n < 50 ? 'insert' : 'update',
    after: { title: `Note ${n % 50}`, body: `revision ${n}`, updatedAt: at.toISOString() },
    ts: at.toISOString(),
  };
}
