export { google, openagents } from './proto';
export * from './json';
export * from './contract.error';
export * from './canonical-json';
export * from './payload-hash';
export * from './event-types';
export * from './event-reading';
export * from './sync';
