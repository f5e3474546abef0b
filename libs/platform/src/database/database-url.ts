/** The app roles migrations create; each app connects as (or SET ROLE to) exactly one. */
export const APP_ROLES = {
  control: 'khala_control',
  runtime: 'khala_runtime',
  gateway: 'khala_gateway',
} as const;
export type AppName = keyof typeof APP_ROLES;
export type AppRole = (typeof APP_ROLES)[AppName];

/** Hides the password so a URL can be printed or logged. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable database url>';
  }
}

export function withDatabaseName(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
