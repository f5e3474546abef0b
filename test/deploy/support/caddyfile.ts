/** One `reverse_proxy` of a Caddyfile: what it matches, where it sends, how it health-checks. */
export interface ProxyRoute {
  /** Path patterns (`/api/*`, or a named matcher's `path` list); empty = everything. */
  paths: string[];
  upstreams: { host: string; port: number }[];
  healthUri?: string;
}

/** The reverse_proxy routes in the order written (the Caddyfile keeps them in a `route` block). */
export function proxyRoutes(caddyfile: string): ProxyRoute[] {
  const lines = caddyfile
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter(Boolean);
  const matchers = new Map<string, string[]>();
  for (const line of lines) {
    const named = /^(@\S+)\s+path\s+(.+)$/.exec(line);
    if (named) matchers.set(named[1], named[2].split(/\s+/));
  }
  const routes: ProxyRoute[] = [];
  for (const line of lines) {
    const words = line.replace(/\{$/, '').trim().split(/\s+/);
    if (words[0] === 'reverse_proxy') {
      let targets = words.slice(1);
      let paths: string[] = [];
      if (targets[0]?.startsWith('@')) paths = matchers.get(targets[0]) ?? [];
      else if (targets[0]?.startsWith('/')) paths = [targets[0]];
      if (paths.length || targets[0]?.startsWith('@')) targets = targets.slice(1);
      routes.push({
        paths,
        upstreams: targets.map((target) => {
          const [host, port] = target.split(':');
          return { host, port: Number(port) };
        }),
      });
    } else if (words[0] === 'health_uri' && routes.length) {
      routes[routes.length - 1].healthUri = words[1];
    }
  }
  return routes;
}

/** Whether a Caddy path pattern (`/api/*`, `/exact`) matches a request path. */
export function caddyPathMatches(pattern: string, path: string): boolean {
  return pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : pattern === path;
}
