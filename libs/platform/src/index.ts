export * from './config/load-env';
export * from './config/common-env';
export * from './database/database';
export * from './database/database-url';
export * from './database/embedded-postgres';
export * from './database/migrations';
export * from './database/schema-drift';
