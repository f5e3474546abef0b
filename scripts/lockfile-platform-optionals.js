#!/usr/bin/env node
// Adds lock entries for platform-specific optional packages (other OSes' and CPUs' binaries of
// swc, buf, jest's resolver) that npm 11 leaves out of package-lock.json when the registry does not
// serve those variants to this machine. Without them `npm ci` refuses the lock ("Missing: ...");
// with them it skips the variants as optional. Run after any `npm install`: npm run lockfile:fix.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const file = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
let added = 0;
for (const [key, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = `${key ? `${key}/` : ''}node_modules/${name}`;
    if (lock.packages[nested] || lock.packages[`node_modules/${name}`]) continue;
    lock.packages[`node_modules/${name}`] = { version, optional: true, ...(entry.dev ? { dev: true } : {}) };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(`lockfile: added ${added} platform-optional entries\n`);
