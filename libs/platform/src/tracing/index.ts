export * from './http-server-span.interceptor';
export * from './traced-command';
export * from './traceparent';
export * from './tracing';
export * from './tracing.providers';
