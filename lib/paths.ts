import path from 'node:path';

/** The project's root folder (the one holding package.json). */
export const PROJECT_ROOT = path.resolve(__dirname, '..');
