// The only entry to the generated code: it installs the JSON mapping of Struct/Value/ListValue
// before anything can use the classes. Import from here (or the package index), never from
// ./generated directly.
import { google, openagents } from './generated/openagents';
import { installStructJsonMapping } from './struct-json';

installStructJsonMapping(google.protobuf);

export { google, openagents };
