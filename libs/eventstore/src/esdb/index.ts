export * from './esdb-event-store';
export * from './esdb-request-cap';
