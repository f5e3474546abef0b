export * from './auth.error';
export * from './auth.module';
export * from './claims';
export * from './key-ring';
export * from './token-service';
export * from './api-token';
export * from './postgres-auth-stores';
