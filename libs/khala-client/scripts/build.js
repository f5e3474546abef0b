#!/usr/bin/env node
// Builds the publishable package from src/: dist/cjs (CommonJS) and dist/esm (ES modules), each
// with its .d.ts. The SDK imports the Phoenix codec from libs/contracts through a repository path
// alias; the build compiles that file into the package (dist/*/contracts/) and points the imports
// at it, so the package needs nothing of the repository at runtime or for its types.
// `--clean` removes dist/ (npm pack runs it afterwards, so packing leaves the tree as it was).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const packageDir = path.join(__dirname, '..');
const dist = path.join(packageDir, 'dist');
const CONTRACT_IMPORT = '@khala/contracts/sync/phoenix-frame';

fs.rmSync(dist, { recursive: true, force: true });
if (process.argv.includes('--clean')) process.exit(0);

const tsc = require.resolve('typescript/bin/tsc', { paths: [packageDir] });
for (const format of ['cjs', 'esm']) {
  const staging = path.join(dist, `.${format}`);
  const out = path.join(dist, format);
  execFileSync(process.execPath, [tsc, '-p', path.join(packageDir, 'tsconfig.build.json'), '--outDir', staging, '--module', format === 'cjs' ? 'commonjs' : 'es2020'], {
    stdio: 'inherit',
  });
  // rootDir is libs/ (the SDK and the one contract file): flatten to dist/<format>/ and dist/<format>/contracts/.
  fs.renameSync(path.join(staging, 'khala-client', 'src'), out);
  fs.mkdirSync(path.join(out, 'contracts'));
  for (const file of fs.readdirSync(path.join(staging, 'contracts', 'src', 'sync'))) {
    fs.renameSync(path.join(staging, 'contracts', 'src', 'sync', file), path.join(out, 'contracts', file));
  }
  fs.rmSync(staging, { recursive: true, force: true });
  for (const file of fs.readdirSync(out)) {
    if (file.endsWith('.js') || file.endsWith('.d.ts')) rewriteImports(path.join(out, file), format);
  }
  fs.writeFileSync(path.join(out, 'package.json'), `${JSON.stringify({ type: format === 'cjs' ? 'commonjs' : 'module' })}\n`);
}

/** The contract import becomes relative; ES modules (and their types) name the file with its .js. */
function rewriteImports(file, format) {
  const source = fs.readFileSync(file, 'utf8');
  const rewritten = source.replace(/(from |require\(|import\()(['"])([^'"]+)\2/g, (whole, keyword, quote, specifier) => {
    let target = specifier === CONTRACT_IMPORT ? './contracts/phoenix-frame' : specifier;
    if (!target.startsWith('.')) {
      if (target.startsWith('@khala/')) throw new Error(`${file} imports ${target}, which the package does not contain`);
      return whole;
    }
    if (format === 'esm') target = `${target}.js`;
    return `${keyword}${quote}${target}${quote}`;
  });
  fs.writeFileSync(file, rewritten);
}
