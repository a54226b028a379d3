import { readFile } from 'node:fs/promises';
import { isUuid } from '../../lib/ids';
import pino from 'pino';
import { Command } from 'commander';
import { ConfigError } from '../../lib/errors';
import { dataDirOf, loadConfig, type DurasyncConfig } from '../../lib/config';
import { withRunningWorkspace } from '../../lib/dev-workspace';
import { createLogger, type Logger } from '../../lib/logger';
import { createDurasyncClient, type DurasyncClient } from '../index';
import { DurasyncWorkflowFailedError, ScheduleAlreadyExistsError, ScheduleNotFoundError, WorkflowAlreadyRunningError, WorkflowNotFoundError } from '../errors';

/**
 * What every `durasync` command shares: exit codes, the configuration and logger it runs with, the
 * global `--json` switch, and the wrapper that turns any failure into one line and an exit code.
 */

/** Exit codes of the `durasync` command. */
export const EXIT = {
  OK: 0,
  /** Anything else that went wrong, including a bad configuration value. */
  FAILURE: 1,
  /** Bad usage: unknown command or option, missing argument, a flag value that does not parse (e.g. --input that is not JSON). */
  USAGE: 2,
  /** The workflow (or a file named on the command line) does not exist. */
  NOT_FOUND: 3,
  /** The workflow failed, was cancelled, terminated or timed out; or `replay` found a determinism error. */
  WORKFLOW_FAILED: 4,
} as const;

/** The exit codes, as `durasync --help` prints them after the commands. */
export const EXIT_CODES_HELP = `
Output:
  Commands print readable lines; with --json they print one JSON document on stdout instead
  (on failure: {"error": {"name", "message", "exitCode", ...}}). Progress and logs go to stderr.

Exit codes:
  0  success
  1  failure (including a bad configuration value, or a degraded canary)
  2  bad usage (unknown command or option, a flag value that does not parse)
  3  not found (no workflow with that id, or a file named on the command line is missing)
  4  the workflow failed, was cancelled, terminated or timed out; replay found a determinism error
`;

/** What a command's action gets. */
export interface CommandContext {
  config: DurasyncConfig;
  logger: Logger;
  /** The global --json switch: one JSON document on stdout. */
  json: boolean;
}

/** Bad usage: printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * A failure with its own exit code (e.g. a missing file: 3; a determinism error found by replay: 4).
 * `reported`: the command already printed its JSON document, so --json adds no error document.
 */
export class ExitError extends Error {
  override readonly name = 'ExitError';
  constructor(
    message: string,
    readonly exitCode: number,
    readonly reported = false,
  ) {
    super(message);
  }
}

/**
 * Flags that stand for configuration variables: `durasync worker --max-activities 50` is
 * `DURASYNC_MAX_CONCURRENT_ACTIVITIES=50 durasync worker`. They are validated by lib/config.ts like
 * the variables, and exported to the environment, so that processes the command starts (the
 * manager's workers) inherit them.
 */
export const FLAG_VARIABLES: Record<string, string> = {
  queues: 'DURASYNC_QUEUES',
  mode: 'DURASYNC_WORKER_MODE',
  maxActivities: 'DURASYNC_MAX_CONCURRENT_ACTIVITIES',
  maxWorkflowTasks: 'DURASYNC_MAX_CONCURRENT_WORKFLOW_TASKS',
  tuner: 'DURASYNC_TUNER',
  targetMem: 'DURASYNC_TUNER_TARGET_MEM',
  targetCpu: 'DURASYNC_TUNER_TARGET_CPU',
  rate: 'DURASYNC_QUEUE_RATES',
  processes: 'DURASYNC_MANAGER_PROCESSES',
};

const flagName = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Writes one JSON document (--json) or readable lines to stdout. */
export function print(ctx: CommandContext, document: unknown, lines: () => string[]): void {
  process.stdout.write(ctx.json ? `${JSON.stringify(document, null, 2)}\n` : lines().map((l) => `${l}\n`).join(''));
}

/** Opens the client SDK, runs `work`, closes it. */
export async function withClient<T>(ctx: CommandContext, work: (client: DurasyncClient) => Promise<T>): Promise<T> {
  const client = await createDurasyncClient({ config: ctx.config });
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

/** Commander's collector for repeatable flags: `--input 1 --input '"a"'` -> ['1', '"a"']. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/**
 * Parses JSON flag values (`--input`): each is JSON, or `@file` holding JSON. A value that does not
 * parse, or a file that cannot be read, is a UsageError naming the flag.
 */
export async function parseJsonValues(flag: string, values: string[] | undefined): Promise<unknown[]> {
  const parsed: unknown[] = [];
  for (const value of values ?? []) {
    let text = value;
    if (value.startsWith('@')) {
      try {
        text = await readFile(value.slice(1), 'utf8');
      } catch (err) {
        throw new UsageError(`${flag}: cannot read ${value.slice(1)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
    }
    try {
      parsed.push(JSON.parse(text));
    } catch (err) {
      throw new UsageError(`${flag}: expected JSON or @file holding JSON, ${value.startsWith('@') ? `${value.slice(1)} is not valid JSON` : 'got invalid JSON'} (${(err as Error).message})`);
    }
  }
  return parsed;
}

function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return EXIT.USAGE;
  if (err instanceof ExitError) return err.exitCode;
  if (err instanceof WorkflowNotFoundError || err instanceof ScheduleNotFoundError) return EXIT.NOT_FOUND;
  if (err instanceof DurasyncWorkflowFailedError) return EXIT.WORKFLOW_FAILED;
  return EXIT.FAILURE;
}

/** The error as --json prints it: name, message, exit code and the typed fields of client/errors.ts. */
function errorDocument(err: Error, exitCode: number): { error: Record<string, unknown> } {
  const fields: Record<string, unknown> = { name: err.name, message: err.message, exitCode };
  if (err instanceof WorkflowNotFoundError || err instanceof WorkflowAlreadyRunningError) fields.workflowId = err.workflowId;
  if (err instanceof ScheduleNotFoundError || err instanceof ScheduleAlreadyExistsError) fields.scheduleId = err.scheduleId;
  if (err instanceof DurasyncWorkflowFailedError) {
    Object.assign(fields, { workflowId: err.workflowId, status: err.status, failureType: err.failureType, causes: err.causes });
    if (err.applicationFailureType) fields.applicationFailureType = err.applicationFailureType;
  }
  return { error: fields };
}

/**
 * Loads the configuration (with what a running `npm run dev` provides, lib/dev-workspace.ts) and a
 * logger, runs `action`, and turns any failure into one line + exit code.
 */
export function command<A extends unknown[]>(
  name: string,
  action: (ctx: CommandContext, ...args: A) => Promise<void>,
  options: {
    logTo?: 'stdout' | 'stderr';
    /** Take what the environment does not set from a `npm run dev` running on this checkout. Default: true. */
    workspace?: boolean;
  } = {},
) {
  return async (...args: A): Promise<void> => {
    const cmd = args.find((a): a is Command => a instanceof Command);
    const flags = (args.find((a) => typeof a === 'object' && a !== null && !(a instanceof Command)) ?? {}) as Record<string, unknown>;
    const json = cmd?.optsWithGlobals<{ json?: boolean }>().json === true;
    const fail = (err: Error, code: number, line: string) => {
      if (json && !(err instanceof ExitError && err.reported)) process.stdout.write(`${JSON.stringify(errorDocument(err, code), null, 2)}\n`);
      // One line whatever the message echoes (a flag value may hold newlines): they are printed escaped.
      process.stderr.write(`durasync ${name}: ${line.replace(/\r\n|\r|\n/g, '\\n')}\n`);
      process.exit(code);
    };
    const fromFlags: Record<string, string> = {};
    for (const [key, value] of Object.entries(flags)) {
      const variable = FLAG_VARIABLES[key];
      if (variable && (typeof value === 'string' || Array.isArray(value))) fromFlags[variable] = Array.isArray(value) ? value.join(',') : value;
    }
    let config: DurasyncConfig;
    try {
      Object.assign(process.env, fromFlags);
      config = loadConfig(options.workspace === false ? process.env : withRunningWorkspace(process.env, dataDirOf()));
    } catch (err) {
      if (err instanceof ConfigError) {
        const flag = Object.keys(FLAG_VARIABLES).find((k) => FLAG_VARIABLES[k] === err.variable && err.variable in fromFlags);
        return fail(err, flag ? EXIT.USAGE : EXIT.FAILURE, flag ? `${flagName(flag)}${err.message.slice(err.variable.length)}` : err.message);
      }
      throw err;
    }
    const logger = createLogger({
      level: config.logLevel,
      base: { service: `durasync-${name.replace(' ', '-')}` },
      destination: options.logTo === 'stdout' ? undefined : pino.destination({ fd: 2, sync: true }),
    });
    try {
      await action({ config, logger, json }, ...args);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      const code = exitCodeOf(error);
      // A ConfigError is its one line (naming the variable); a stack adds nothing.
      if (code === EXIT.FAILURE && !(error instanceof ExitError) && !(error instanceof ConfigError)) logger.error({ err }, `${name} failed`);
      fail(error, code, error.message);
    }
  };
}

/** A row id argument (`linkId`, `branchId`): a UsageError (exit 2) naming it unless it is a UUID. */
export function requireId(argument: string, kind: string, value: string): void {
  if (!isUuid(value)) throw new UsageError(`${argument}: expected a ${kind} id (a UUID), got "${value}"`);
}
