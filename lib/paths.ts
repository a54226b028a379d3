import { existsSync } from 'node:fs';
import path from 'node:path';

/** The nearest folder above `from` that holds package.json. */
function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(from, '..');
  }
}

/** The project's root folder (the one holding package.json), from source (lib/) or compiled (dist/lib/). */
export const PROJECT_ROOT = packageRoot(__dirname);
