import type { SourcePlugin } from '../source-plugin';
import { githubSource } from './github';

/**
 * The built-in sources of pulled events, by id. A new source is a file next to this one exporting
 * a SourcePlugin (lib/ingest/source-plugin.ts), and its line here.
 */
export const SOURCES: Readonly<Record<string, SourcePlugin<unknown, unknown>>> = {
  [githubSource.id]: githubSource,
};

/** The plugin of `id`, or undefined. */
export function sourcePlugin(id: string): SourcePlugin<unknown, unknown> | undefined {
  return Object.hasOwn(SOURCES, id) ? SOURCES[id] : undefined;
}

/** The ids of the built-in sources, for messages. */
export const SOURCE_IDS = Object.keys(SOURCES);
