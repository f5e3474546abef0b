import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';

export class InvalidEnvironmentError extends Error {
  constructor(readonly badKeys: Record<string, string[]>) {
    super(
      'Invalid environment: ' +
        Object.entries(badKeys)
          .map(([key, problems]) => `${key} (${problems.join('; ')})`)
          .join(', '),
    );
  }
}

/**
 * Validates the environment against a class-validator class and names every bad key at once,
 * so an operator fixes a deployment in one round instead of one error per restart.
 */
export function loadEnv<T extends object>(
  envClass: new () => T,
  source: NodeJS.ProcessEnv = process.env,
): T {
  const instance = plainToInstance(envClass, { ...source }, { enableImplicitConversion: true });
  const errors = validateSync(instance, { whitelist: false, skipMissingProperties: false });
  if (errors.length > 0) throw new InvalidEnvironmentError(collectProblems(errors));
  return instance;
}

function collectProblems(errors: ValidationError[]): Record<string, string[]> {
  const problems: Record<string, string[]> = {};
  for (const error of errors) {
    problems[error.property] = Object.values(error.constraints ?? { invalid: 'invalid value' });
  }
  return problems;
}
