#!/usr/bin/env node
// The image's HEALTHCHECK. One image runs every app, so this finds which app the container runs
// (the node process whose command line names an app's entry file) and asks that app's readiness
// route on its own port (the projector worker's small listener answers the same path). Processes
// without HTTP (oa) count as healthy while they run. The port keys and defaults are checked against the apps' env classes by test/deploy.
'use strict';
const { readdirSync, readFileSync } = require('node:fs');
const http = require('node:http');

/** Entry file (as built) → the env key of its port and the app's default. */
const APP_HTTP = {
  'dist/apps/control/src/main.js': { portKey: 'CONTROL_PORT', defaultPort: 3001 },
  'dist/apps/runtime/src/main.js': { portKey: 'RUNTIME_PORT', defaultPort: 3002 },
  'dist/apps/khala-gateway/src/main.js': { portKey: 'KHALA_PORT', defaultPort: 3003 },
  'dist/apps/runtime/src/projector-worker.js': { portKey: 'PROJECTOR_WORKER_PORT', defaultPort: 3004 },
};
const READINESS_PATH = '/health/ready';

/** The HTTP app a command line runs, or undefined. */
function appOf(commandLine) {
  return Object.keys(APP_HTTP).find((entry) => commandLine.includes(entry));
}

function runningApp() {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let commandLine;
    try {
      commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue; // gone meanwhile
    }
    const entry = appOf(commandLine);
    if (entry) return entry;
  }
  return undefined;
}

function probe(port) {
  const request = http.get({ host: '127.0.0.1', port, path: READINESS_PATH, timeout: 2500 }, (response) => {
    response.resume();
    process.exit(response.statusCode === 200 ? 0 : 1);
  });
  request.on('timeout', () => request.destroy(new Error('timeout')));
  request.on('error', () => process.exit(1));
}

if (require.main === module) {
  const entry = runningApp();
  if (!entry) process.exit(0);
  const { portKey, defaultPort } = APP_HTTP[entry];
  probe(Number(process.env[portKey] || defaultPort));
}

module.exports = { APP_HTTP, READINESS_PATH, appOf };
