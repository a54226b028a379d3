import readline from 'node:readline';
import type { Readable } from 'node:stream';

/** Where the manager writes its children's log lines: its own stdout, raw (one JSON line each). */
export interface LineSink {
  write(text: string): unknown;
}

export interface ChildLineScope {
  /** The child's name, e.g. `sync#2`. */
  child: string;
  childPid: number;
  /** The stream the line came from: a non-JSON line on stderr is logged at level `error`. */
  stream: 'stdout' | 'stderr';
}

/**
 * One line of a child's output as one JSON line of the manager's: a JSON object gets `child` and
 * `childPid` added (the child's own fields are otherwise kept as they are); anything else is
 * wrapped as `{"level":"info"|"error","time":...,"child":...,"childPid":...,"msg":"<line>"}`.
 */
export function formatChildLine(line: string, scope: ChildLineScope, now: () => Date = () => new Date()): string {
  const trimmed = line.trim();
  if (trimmed.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        return `${JSON.stringify({ ...(parsed as Record<string, unknown>), child: scope.child, childPid: scope.childPid })}\n`;
      }
    } catch {
      // not JSON after all: wrapped below
    }
  }
  const level = scope.stream === 'stderr' ? 'error' : 'info';
  return `${JSON.stringify({ level, time: now().toISOString(), child: scope.child, childPid: scope.childPid, msg: line })}\n`;
}

/** Forwards every line of `input` (a child's stdout or stderr) to `sink`, formatted; ends with the stream. */
export function forwardLines(input: Readable, sink: LineSink, scope: ChildLineScope): void {
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  lines.on('line', (line) => {
    if (line.trim() !== '') sink.write(formatChildLine(line, scope));
  });
}
