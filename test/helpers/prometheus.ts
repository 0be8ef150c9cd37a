// Read a warden /metrics page with a Prometheus text-format parser and look values up by labels.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

type Family = ReturnType<typeof parsePrometheusTextFormat>[number];
type Sample = Family['metrics'][number];

/** A parsed /metrics page: families (name, help, type) and every sample line by its own name. */
export interface Scrape {
  families: Family[];
  /** `x_total`, `x_bucket`, `x_count`, `x_sum` … → samples with labels and value. */
  samples: Map<string, Sample[]>;
}

/** Parse a Prometheus text page. */
export function parseMetrics(text: string): Scrape {
  const families = parsePrometheusTextFormat(text);
  // The parser folds a labelled histogram's series into one (it keeps labels only for unlabelled
  // histograms), so sample lines are also parsed on their own, without HELP/TYPE: each line then
  // keeps its name, labels and value.
  const samples = new Map<string, Sample[]>();
  for (const f of parsePrometheusTextFormat(
    text
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n') + '\n',
  )) {
    const list = samples.get(f.name) ?? [];
    list.push(...f.metrics);
    samples.set(f.name, list);
  }
  return { families, samples };
}

/** GET and parse `url` (a /metrics endpoint). */
export async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  return parseMetrics(await res.text());
}

/** The family named `name` (HELP and TYPE), or undefined. */
export function family(m: Scrape, name: string): Family | undefined {
  return m.families.find((f) => f.name === name);
}

/** Sum of the sample lines named `name` whose labels include `labels`; 0 when none match. */
export function value(m: Scrape, name: string, labels: Record<string, string> = {}): number {
  return (m.samples.get(name) ?? [])
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v))
    .reduce((n, s) => n + Number(s.value), 0);
}
