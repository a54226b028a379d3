/**
 * Merges Prometheus text expositions (format 0.0.4) from several processes into one, as the
 * manager serves them on /metrics: every sample line gets a label naming its source
 * (`worker="sync#1"`), the lines of a metric family are grouped together, and each family's
 * `# HELP` and `# TYPE` appear once (the first source that declares them wins). A source label that
 * is already present on a sample is kept as `exported_<label>`, as Prometheus does when it scrapes.
 * Pure: no I/O, no clock.
 */
export interface MetricsSource {
  /** The value of the source label on every sample of `text`, e.g. `sync#1` or `manager`. */
  worker: string;
  /** A Prometheus text exposition. */
  text: string;
}

interface Family {
  help?: string;
  type?: string;
  samples: string[];
}

/** Suffixes that samples of a summary or histogram (or an OpenMetrics counter) add to the family name. */
const SAMPLE_SUFFIXES = ['_bucket', '_count', '_sum', '_created', '_total', '_info', '_gcount', '_gsum'];
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

export function mergePrometheus(sources: MetricsSource[], labelName = 'worker'): string {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { samples: [] }));
    return f;
  };
  for (const { worker, text } of sources) {
    for (const rawLine of text.split('\n')) {
      const line = rawLine.trim();
      if (line === '') continue;
      if (line.startsWith('#')) {
        const meta = /^#\s*(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s(.*))?$/.exec(line);
        if (!meta) continue; // other comments carry nothing a scraper reads
        const f = family(meta[2]!);
        if (meta[1] === 'HELP') f.help ??= meta[3] ?? '';
        else f.type ??= (meta[3] ?? 'untyped').trim();
        continue;
      }
      const sample = labelSample(line, worker, labelName);
      if (sample) family(familyOf(sample.name, families)).samples.push(sample.line);
    }
  }
  const out: string[] = [];
  for (const [name, f] of families) {
    if (f.help !== undefined) out.push(`# HELP ${name} ${f.help}`);
    if (f.type !== undefined) out.push(`# TYPE ${name} ${f.type}`);
    out.push(...f.samples);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

/** The family a sample belongs to: its own name when declared, else its name minus a known suffix when that is declared. */
function familyOf(sampleName: string, families: Map<string, Family>): string {
  if (families.get(sampleName)?.type !== undefined) return sampleName;
  for (const suffix of SAMPLE_SUFFIXES) {
    if (!sampleName.endsWith(suffix)) continue;
    const base = sampleName.slice(0, -suffix.length);
    if (families.get(base)?.type !== undefined) return base;
  }
  return sampleName;
}

/** `name{a="1"} 2` -> `name{a="1",worker="x"} 2`; undefined for a line that is not a sample. */
export function labelSample(line: string, worker: string, labelName = 'worker'): { name: string; line: string } | undefined {
  const name = METRIC_NAME.exec(line)?.[0];
  if (!name) return undefined;
  let rest = line.slice(name.length);
  let labels: Array<[string, string]> = [];
  if (rest.startsWith('{')) {
    const parsed = parseLabels(rest);
    if (!parsed) return undefined;
    labels = parsed.labels;
    rest = rest.slice(parsed.length);
  }
  if (!/^\s+\S/.test(rest)) return undefined; // no value
  labels = labels.map(([k, v]) => (k === labelName ? [`exported_${labelName}`, v] : [k, v]));
  labels.push([labelName, escapeLabelValue(worker)]);
  const set = labels.map(([k, v]) => `${k}="${v}"`).join(',');
  return { name, line: `${name}{${set}} ${rest.trim()}` };
}

/** Parses `{a="x",b="y\"z"}` at the start of `text`; values stay escaped. */
function parseLabels(text: string): { labels: Array<[string, string]>; length: number } | undefined {
  const labels: Array<[string, string]> = [];
  let i = 1;
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (text[i] === '}') return { labels, length: i + 1 };
    const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i))?.[0];
    if (!key) return undefined;
    i += key.length;
    while (text[i] === ' ') i++;
    if (text[i] !== '=') return undefined;
    i++;
    while (text[i] === ' ') i++;
    if (text[i] !== '"') return undefined;
    const start = ++i;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) return undefined;
    labels.push([key, text.slice(start, i)]);
    i++;
  }
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
