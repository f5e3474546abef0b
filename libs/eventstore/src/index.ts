export * from './event-store.port';
export * from './event-store.error';
export * from './event-id';
export * from './postgres/postgres-event-store';
export * from './command-execution';
export * from './esdb';
export * from './event-store.module';
