/** Metric name → the label names seen or declared for it (the registry's default `app` included). */
export type SeriesLabels = Map<string, Set<string>>;

/**
 * The series a /metrics response exposes, as a query can select them: every name its `# TYPE` lines
 * declare (a histogram as its _bucket/_sum/_count, a summary also as _sum/_count) with the label
 * names of its samples.
 * A labelled series that has not been observed yet has a TYPE line but no sample; `declared` (the
 * registry's label names per metric) fills those in.
 */
export function exposedSeries(text: string, declared: Map<string, readonly string[]> = new Map()): SeriesLabels {
  const series: SeriesLabels = new Map();
  const add = (name: string, labels: Iterable<string>) => {
    const set = series.get(name) ?? new Set<string>();
    for (const label of labels) set.add(label);
    series.set(name, set);
  };
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const labels = ['app', ...(declared.get(name) ?? [])];
    if (type !== 'histogram') add(name, type === 'summary' ? [...labels, 'quantile'] : labels);
    if (type === 'histogram') {
      add(`${name}_bucket`, [...labels, 'le']);
      add(`${name}_sum`, labels);
      add(`${name}_count`, labels);
    } else if (type === 'summary') {
      add(`${name}_sum`, labels);
      add(`${name}_count`, labels);
    }
  }
  for (const [, name, body] of text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? \S+$/gm)) {
    if (!series.has(name)) throw new Error(`sample ${name} has no # TYPE line`);
    add(name, [...(body ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)].map((match) => match[1]));
  }
  return series;
}

export interface Selector {
  metric: string;
  labels: Record<string, string>;
  grouping: string[];
}

/** Labels Prometheus adds to every scraped series (the target's), not the apps. */
const SCRAPE_LABELS = new Set(['instance', 'job']);

const KEYWORDS = /^(rate|irate|sum|max|min|avg|count|increase|deriv|topk|bottomk|histogram_quantile|clamp_min|for|and|or|unless|on|ignoring|without|bool|offset)$/;

/** The selectors of one PromQL expression: metric, label matchers, and the `by (…)` labels. */
export function parsePromql(expression: string): Selector[] {
  // Ranges ([5m], [$__rate_interval]) are not selectors.
  const span = expression.replace(/\[[^\]]*\]/g, '');
  const grouping = [...span.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((match) => match[1].split(',').map((label) => label.trim()).filter(Boolean));
  const withoutGrouping = span.replace(/\b(?:by|without)\s*\([^)]*\)/g, '');
  const selectors: Selector[] = [];
  for (const match of withoutGrouping.matchAll(/([a-z_:][a-z0-9_:]*)\s*(\{([^}]*)\})?\s*(?=[)\s,/*+\-<>=!]|$)/g)) {
    const [, metric, , matchers] = match;
    if (!metric.includes('_') && !matchers) continue; // durations, numbers' neighbours, keywords
    if (KEYWORDS.test(metric)) continue;
    const labels: Record<string, string> = {};
    for (const [, name, value] of (matchers ?? '').matchAll(/([a-z_]+)\s*(?:=~|!=|!~|=)\s*"([^"]*)"/g)) labels[name] = value;
    selectors.push({ metric, labels, grouping });
  }
  return selectors;
}

/**
 * What is wrong with an expression against the scraped series of each app: a metric no app (or not
 * the app its `app` matcher names) exposes, or a label that metric does not carry. An `app` matcher
 * is read as the regular expression PromQL makes of it (`runtime|projector-worker`).
 */
export function problemsOf(expression: string, byApp: Map<string, SeriesLabels>, isExternal: (metric: string) => boolean = () => false): string[] {
  const problems: string[] = [];
  for (const { metric, labels, grouping } of parsePromql(expression)) {
    if (isExternal(metric)) continue;
    const apps = [...byApp.keys()];
    const candidates = labels.app === undefined ? apps : apps.filter((app) => new RegExp(`^(?:${labels.app})$`).test(app));
    if (!candidates.length) {
      problems.push(`${expression}: no app is labelled app=~"${labels.app}"`);
      continue;
    }
    const emitting = candidates.filter((app) => byApp.get(app)!.has(metric));
    if (!emitting.length) {
      problems.push(`${expression}: ${metric} is not emitted${labels.app !== undefined ? ` by ${candidates.join(' or ')}` : ''}`);
      continue;
    }
    for (const label of [...Object.keys(labels), ...grouping]) {
      if (SCRAPE_LABELS.has(label)) continue;
      if (!emitting.some((app) => byApp.get(app)!.get(metric)!.has(label))) problems.push(`${expression}: ${metric} has no label ${label}`);
    }
  }
  return problems;
}

/** The metric names a /metrics response declares (a histogram by its own name), as tables name them. */
export function declaredNames(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((match) => match[1]);
}
