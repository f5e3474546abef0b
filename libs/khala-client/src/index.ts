export * from './apply';
export * from './backoff';
export * from './khala-client';
export * from './protocol';
export * from './resubscribe-budget';
export * from './watermark-store';
export * from './connection-refused';
