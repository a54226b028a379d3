import { demoChange } from './content';

/** Posts `count` changes of the demo's `notes` collection to the change feed; returns how many were accepted. */
export async function sendDemoChanges(ingressUrl: string, branchId: string, from: number, count: number): Promise<number> {
  const now = Date.now();
  const changes = Array.from({ length: count }, (_, i) => demoChange(from + i, new Date(now + i)));
  const res = await fetch(new URL(`/branches/${branchId}/changes`, ingressUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(changes),
  });
  if (res.status !== 202) throw new Error(`the change feed answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  return count;
}

