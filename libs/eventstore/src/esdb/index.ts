export * from './esdb-event-store';
export * from './esdb-observability';
export * from './esdb-request-cap';
export * from './esdb-access';
