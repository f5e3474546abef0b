import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { testDatabaseUrl } from '../../support/test-database';

export interface OaResult {
  code: number;
  stdout: string;
  stderr: string;
}

const root = join(__dirname, '../../..');

/** Runs `oa` as operators do: a separate process against the test database, judged by exit code and output. */
export function oa(args: string[], env: Record<string, string> = {}): Promise<OaResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-r', '@swc-node/register', join(root, 'apps/cli/src/main.ts'), ...args],
      {
        cwd: root,
        env: {
          ...process.env,
          DATABASE_URL: testDatabaseUrl(),
          SWC_NODE_PROJECT: join(root, 'tsconfig.json'),
          ...env,
        },
        maxBuffer: 256 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

/** `oa --json ...`, parsed. */
export async function oaJson<T = Record<string, unknown>>(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; body: T; stderr: string }> {
  const result = await oa(['--json', ...args], env);
  let body: T;
  try {
    body = JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(
      `oa ${args.join(' ')} exited ${result.code} without JSON: ${result.stdout} ${result.stderr}`,
    );
  }
  return { code: result.code, body, stderr: result.stderr };
}
