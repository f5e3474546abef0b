// The sync:v1 contract both ends share: topic grammar, Phoenix framing, the wire types generated
// from proto/openagents/sync, and the journal channel. Nothing here loads the generated code, so
// the SDK imports `@khala/contracts/sync` without protobufjs.
export * from './topics';
export * from './phoenix-frame';
export * from './wire-types';
export * from './journal-channel';
