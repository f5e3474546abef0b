// Strict promise rules: a floating promise in a projector or gateway is a lost event or a silent crash.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'libs/khala-client/dist/**', 'node_modules/**', 'libs/contracts/src/generated/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-explicit-any': 'warn',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Layering (style.md): libraries never depend on applications.
    files: ['libs/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/apps/**'], message: 'libs never import apps' }] }],
    },
  },
  {
    // Configuration is read in one place: the env classes (apps/*/src/*.env.ts, libs/platform/src/config)
    // validate every key at startup and name the bad ones; other code receives validated values.
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    ignores: ['**/*.env.ts', '**/*.spec.ts', 'libs/platform/src/config/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.type='MemberExpression'][object.object.name='process'][object.property.name='env']",
          message: 'read configuration through an env class (class-validator), not process.env',
        },
      ],
    },
  },
  {
    // Layering (style.md): domain code is pure (decide/evolve, rule codes, names). It imports
    // nothing from Nest, the database, the event store's adapters or other infrastructure, so it
    // runs and is tested with no framework; deciders take Decider and RuleViolation from
    // @khala/eventstore/decider, never from the package barrel (which pulls Nest, pg and the ESDB client).
    files: ['apps/*/src/**/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: '@khala/eventstore', message: 'domain code imports @khala/eventstore/decider, not the barrel' },
            { name: '@khala/platform', message: 'domain code is pure: no platform (Nest, database, HTTP)' },
          ],
          patterns: [
            {
              group: ['@nestjs/*', 'express', 'ws', 'pg', 'pg-*', '@electric-sql/*', '@eventstore/*', 'class-validator', 'class-transformer', 'rxjs'],
              message: 'domain code is pure: no framework, database or transport',
            },
            {
              group: ['@khala/platform/*', '@khala/projections', '@khala/projections/*', '@khala/auth', '@khala/auth/*', '@khala/eventstore/*', '!@khala/eventstore/decider', '!@khala/eventstore/testing'],
              message: 'domain code imports only @khala/eventstore/decider and @khala/contracts from the libraries',
            },
            {
              // Out of its own folder, only into another domain/ folder (rule codes in shared/domain).
              regex: '^\\.\\./(?!(.*/)?domain/)',
              message: 'domain code imports only other domain code',
            },
            {
              group: ['**/*.module', '**/*.controller', '**/*.handler', '**/*.repository', '**/*.reader', '**/*.service', '**/*.error', '**/*.env'],
              message: 'domain code imports only other domain code',
            },
          ],
        },
      ],
    },
  },
);
