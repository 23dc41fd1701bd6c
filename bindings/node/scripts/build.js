#!/usr/bin/env node
// Builds the native addon build/postmessage.node with the system C compiler (no node-gyp: its
// header download is not reachable on every machine, and one C file needs no build system).
//
// Node-API headers: from the `node-api-headers` npm package (a dependency), else from the
// running Node's own include directory. libpostmessage: $PM_LIB_DIR if set, else the repository's
// target/release (built with `cargo build --release` when missing). The .so is copied next to
// the addon and found through an $ORIGIN rpath, so `require('postmessage')` works from anywhere,
// also after the repository's target/ is rebuilt or removed.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const pkg = path.resolve(__dirname, '..');
const out = path.join(pkg, 'build');
const cc = process.env.CC || 'cc';

function run(cmd, args, opts = {}) {
  console.log(`> ${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, { stdio: 'inherit', ...opts });
}

function findRepo() {
  // bindings/node inside the repository; an npm-packed copy has no repository above it.
  let dir = pkg;
  for (let i = 0; i < 4; i++) {
    if (fs.existsSync(path.join(dir, 'Cargo.toml')) && fs.existsSync(path.join(dir, 'include', 'postmessage.h'))) return dir;
    dir = path.dirname(dir);
  }
  return null;
}

function nodeApiInclude() {
  try {
    const h = require('node-api-headers');
    if (h.include_dir && fs.existsSync(path.join(h.include_dir, 'node_api.h'))) return h.include_dir;
  } catch (_) { /* not installed: fall back to Node's own headers */ }
  const candidates = [
    path.join(path.dirname(path.dirname(process.execPath)), 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ];
  for (const c of candidates) if (fs.existsSync(path.join(c, 'node_api.h'))) return c;
  throw new Error('Node-API headers not found: run `npm install` in bindings/node (it installs node-api-headers)');
}

function main() {
  const repo = findRepo();
  let libDir = process.env.PM_LIB_DIR;
  let includeDir = process.env.PM_INCLUDE_DIR || (repo && path.join(repo, 'include'));
  if (!libDir) {
    if (!repo) throw new Error('set PM_LIB_DIR (and PM_INCLUDE_DIR) to an installed libpostmessage');
    const target = process.env.CARGO_TARGET_DIR ? path.resolve(repo, process.env.CARGO_TARGET_DIR) : path.join(repo, 'target');
    libDir = path.join(target, 'release');
    if (!fs.existsSync(path.join(libDir, 'libpostmessage.so'))) {
      run(process.env.CARGO || 'cargo', ['build', '--release'], { cwd: repo });
    }
  }
  const lib = path.join(libDir, 'libpostmessage.so');
  if (!fs.existsSync(lib)) throw new Error(`${lib} not found`);

  // Programs linked against the library record its soname; copy it under that name.
  let soname = 'libpostmessage.so';
  try {
    const dump = execFileSync('objdump', ['-p', lib], { encoding: 'utf8' });
    const m = /^\s*SONAME\s+(\S+)/m.exec(dump);
    if (m) soname = m[1];
  } catch (_) { /* no objdump: the linker records libpostmessage.so itself then */ }

  fs.mkdirSync(out, { recursive: true });
  const localLib = path.join(out, soname);
  fs.rmSync(localLib, { force: true });
  fs.copyFileSync(lib, localLib);
  if (soname !== 'libpostmessage.so') {
    fs.rmSync(path.join(out, 'libpostmessage.so'), { force: true });
    fs.symlinkSync(soname, path.join(out, 'libpostmessage.so'));
  }

  const tmp = path.join(out, 'postmessage.node.tmp');
  run(cc, [
    '-std=c11', '-O2', '-g', '-fPIC', '-shared', '-Wall', '-Wextra', ...(process.env.PM_WERROR ? ['-Werror'] : []),
    '-fvisibility=hidden', '-DNODE_GYP_MODULE_NAME=postmessage',
    '-I', nodeApiInclude(), '-I', includeDir,
    path.join(pkg, 'src', 'addon.c'),
    '-o', tmp,
    '-L', out, '-lpostmessage', '-Wl,-rpath,$ORIGIN', '-pthread',
  ]);
  fs.renameSync(tmp, path.join(out, 'postmessage.node'));
  console.log(`built ${path.join(out, 'postmessage.node')}`);
}

try {
  main();
} catch (e) {
  console.error(`postmessage: build failed: ${e.message}`);
  process.exit(1);
}
