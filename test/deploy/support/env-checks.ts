import { AppContract, validateEnv } from './app-contracts';

/**
 * Every key an artifact gives a process must be one it reads (a misspelt key is silently ignored
 * by the apps, so only this catches it), the keys it cannot start without must be there, and the
 * literal values must pass the app's own validation.
 */
export function expectEnvFitsApp(where: string, app: AppContract, keys: string[], literalEnv: Record<string, string>): void {
  const unread = keys.filter((key) => !app.envKeys.has(key));
  expect({ where, app: app.command, unread }).toEqual({ where, app: app.command, unread: [] });
  const missing = app.requiredKeys.filter((key) => !keys.includes(key));
  expect({ where, app: app.command, missing }).toEqual({ where, app: app.command, missing: [] });
  let problem: string | undefined;
  try {
    validateEnv(app, literalEnv);
  } catch (error) {
    problem = (error as Error).message;
  }
  expect({ where, problem }).toEqual({ where, problem: undefined });
}

/** The port the app listens on with this environment: the env value, else its default. */
export function listeningPort(app: AppContract, env: Record<string, string>): number | undefined {
  if (!app.port) return undefined;
  return env[app.port.key] !== undefined ? Number(env[app.port.key]) : app.port.defaultValue;
}

/** The database role a process logs in as, and the env key that carries its URL (e.g. control → CONTROL_DATABASE_URL). */
export function ownDatabaseUrlKey(app: AppContract): string {
  const keys = [...app.envKeys].filter((key) => /^[A-Z]+_DATABASE_URL$/.test(key));
  if (keys.length !== 1) throw new Error(`${app.command} reads ${keys.length} app database URL keys: ${keys.join(', ')}`);
  return keys[0];
}
