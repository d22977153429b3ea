#!/usr/bin/env node
// Presents solcjs (npm `solc`) as the native `solc` binary that py-solc-x / ape-solidity
// expect: it answers `--version` and `--standard-json` (stdin -> stdout) and nothing else.
// Why: no native solc can be downloaded here, and `solcjs --standard-json` prints a
// banner line before its JSON, which breaks parsers.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require(path.join(__dirname, '..', 'node_modules', 'solc'));

const args = process.argv.slice(2);

if (args.includes('--version')) {
  // Same shape as the native binary; py-solc-x reads the "Version:" line.
  process.stdout.write(
    'solc, the solidity compiler commandline interface\n' +
      `Version: ${solc.version()}\n`,
  );
  process.exit(0);
}

if (!args.includes('--standard-json')) {
  process.stderr.write(
    'heliomesh solc wrapper: only --version and --standard-json are supported ' +
      `(got: ${args.join(' ') || 'nothing'})\n`,
  );
  process.exit(2);
}

// Import resolution: the compiler asks for files it did not get in `sources`; look for
// them under the base path and every include path, never outside them.
function optionValues(name) {
  const out = [];
  args.forEach((a, i) => {
    if (a === name && i + 1 < args.length) out.push(...args[i + 1].split(','));
    else if (a.startsWith(name + '=')) out.push(...a.slice(name.length + 1).split(','));
  });
  return out;
}
const roots = [
  ...optionValues('--base-path'),
  ...optionValues('--include-path'),
  ...optionValues('--allow-paths'),
  process.cwd(),
].map((p) => path.resolve(p));

function findImports(importPath) {
  for (const root of roots) {
    const candidate = path.resolve(root, importPath);
    if (!candidate.startsWith(root + path.sep)) continue;
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, 'utf8') };
  }
  return { error: `File not found under ${roots.join(', ')}: ${importPath}` };
}

const input = fs.readFileSync(0, 'utf8');
process.stdout.write(solc.compile(input, { import: findImports }));
process.stdout.write('\n');
