import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeReliabilityReport } from './report';

/**
 * Sizes and results of the reliability scenarios. Each scenario is sized by an env knob with the
 * issue's numbers as default; RELIABILITY_SCALE=ci picks the reduced size. Every scenario writes
 * what it injected, what it checked and the counts to <RELIABILITY_RESULTS_DIR>/<scenario>.<scale>.json
 * (default test/reliability/results); docs/RELIABILITY.md is rendered from that folder.
 */
export type Scale = 'full' | 'ci';

export function reliabilityScale(): Scale {
  const value = process.env.RELIABILITY_SCALE ?? 'full';
  if (value !== 'full' && value !== 'ci') throw new Error(`RELIABILITY_SCALE must be "full" or "ci", not "${value}"`);
  return value;
}

/** `knob` (a positive integer) if set, else the size of the current scale. */
export function sized(knob: string, sizes: { full: number; ci: number }): number {
  const raw = process.env[knob];
  if (raw === undefined || raw === '') return sizes[reliabilityScale()];
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${knob} must be a positive integer, not "${raw}"`);
  return n;
}

export function resultsDir(): string {
  return path.resolve(process.env.RELIABILITY_RESULTS_DIR ?? path.join(__dirname, 'results'));
}

export interface ScenarioResult {
  /** File name stem and heading. */
  scenario: string;
  title: string;
  scale: Scale;
  /** ISO time of the run. */
  date: string;
  durationMs: number;
  /** What was done to the system while the load ran. */
  injected: string[];
  /** What was asserted afterwards (every item held, or the scenario failed). */
  checked: string[];
  counts: Record<string, number | string>;
}

/** Writes `<scenario>.<scale>.json` (a ci run and a full run of a scenario side by side) to the results folder and re-renders docs/RELIABILITY.md from it when RELIABILITY_REPORT is set to a path. */
export function recordResult(result: ScenarioResult): string {
  const dir = resultsDir();
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${result.scenario}.${result.scale}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  process.stderr.write(`[reliability] ${result.scenario}: ${JSON.stringify(result.counts)} in ${result.durationMs} ms -> ${file}\n`);
  if (process.env.RELIABILITY_REPORT) writeReliabilityReport(dir, path.resolve(process.env.RELIABILITY_REPORT));
  return file;
}

/** recordResult for a scenario begun at `started` (epoch ms): scale, date and duration are taken now. */
export function recordScenario(started: number, result: Omit<ScenarioResult, 'scale' | 'date' | 'durationMs'>): string {
  const { scenario, title, ...rest } = result;
  return recordResult({ scenario, title, scale: reliabilityScale(), date: new Date().toISOString(), durationMs: Date.now() - started, ...rest });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
