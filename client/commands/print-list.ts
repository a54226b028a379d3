import { print, type CommandContext } from './context';

/** Prints a list: `{ [key]: items }` with --json, else one line per item, or `empty` when there are none. */
export function printList<T>(ctx: CommandContext, key: string, items: T[], line: (item: T) => string, empty: string): void {
  print(ctx, { [key]: items }, () => (items.length ? items.map((item) => line(item)) : [empty]));
}
