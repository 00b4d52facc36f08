#!/usr/bin/env bash
# Rebuilds webui/plotlyjs/plotly-custom.min.js: a partial plotly.js bundle with only the trace
# types the web UI draws, in plotly.js's strict flavour (WebGL traces with precompiled regl code:
# no `new Function`, so it runs under the UI's Content-Security-Policy without 'unsafe-eval').
#
# It does what plotly.js's `npm run custom-bundle -- --traces ... --strict` does (CUSTOM_BUNDLE.md;
# that task is not in the npm package): the npm package plotly.js@VERSION, its runtime
# dependencies, and esbuild with the plugins and options of plotly.js's own esbuild-config.js,
# on an entry file that registers the traces below (the `strict` scattergl, as lib/index-strict.js).
#
#   scripts/build_plotly_bundle.sh            # plotly.js of the installed `plotly` Python package
#   PLOTLY_JS_VERSION=4.1.1 scripts/build_plotly_bundle.sh
#
# Needs node and npm (npm registry access). Works in a temporary folder; touches only the bundle.
# The trace types: every `"type":` of webui/*.py figures and webui/static/*.js (scatter is in
# every bundle); a page that draws another type needs it added here (the browser tests open them).
set -euo pipefail
cd "$(dirname "$0")/.."
TRACES=(bar box histogram scattergl)
ESBUILD=(esbuild@0.28.1 esbuild-plugin-glsl@1.4.2 esbuild-plugin-inline-css@0.0.1
  esbuild-plugin-environment@0.5.0 stream-browserify@3.0.0 buffer@6.0.3)
OUT="$PWD/webui/plotlyjs/plotly-custom.min.js"
VERSION="${PLOTLY_JS_VERSION:-$(python3 -c 'import plotly.offline as o; print(o.get_plotlyjs_version())')}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "plotly.js@$VERSION" >/dev/null
tar xzf "plotly.js-$VERSION.tgz"
cd package
npm pkg delete devDependencies scripts  # plotly.js's test and lint tools: not needed here
npm install --silent --ignore-scripts --no-audit --no-fund "${ESBUILD[@]}"

{
  echo "'use strict';"
  echo "var Plotly = require('./core');"
  echo "Plotly.register(["
  for t in "${TRACES[@]}"; do
    if [ -f "src/traces/$t/strict.js" ]; then
      echo "    require('../src/traces/$t/strict'),"
    else
      echo "    require('./$t'),"
    fi
  done
  echo "]);"
  echo "module.exports = Plotly;"
} >lib/index-socketscope.js

cat >build-socketscope.js <<'EOF'
// plotly.js's esbuildConfig (esbuild-config.js), minified, on the socketscope entry file
const esbuild = require('esbuild');
const { environmentPlugin } = require('esbuild-plugin-environment');
const { glsl } = require('esbuild-plugin-glsl');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');
const [out, version, traces] = process.argv.slice(2);
esbuild.build({
    entryPoints: ['./lib/index-socketscope.js'],
    outfile: out,
    format: 'iife',
    globalName: 'Plotly',
    bundle: true,
    minify: true,
    sourcemap: false,
    banner: {js: `/**\n* plotly.js (socketscope partial strict bundle: ${traces}) v${version}\n` +
        '* Copyright 2012-2026, Plotly, Inc.\n* All rights reserved.\n* Licensed under the MIT license\n*/'},
    plugins: [InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
    alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
    define: { global: 'window', 'define.amd': 'false' },
    target: 'es2016',
    logLevel: 'warning',
}).catch(() => process.exit(1));
EOF
node build-socketscope.js "$OUT" "$VERSION" "$(IFS=,; echo "scatter,${TRACES[*]}")"
if grep -q "new Function" "$OUT"; then
  echo "build_plotly_bundle: the bundle uses new Function (not strict): refused" >&2
  rm -f "$OUT"
  exit 1
fi
echo "wrote $OUT ($(wc -c <"$OUT") bytes, plotly.js $VERSION: scatter ${TRACES[*]})"
