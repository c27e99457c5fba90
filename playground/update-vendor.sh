#!/usr/bin/env bash
# Refreshes playground/vendor/: the unmodified browser builds that the server embeds for its
# GraphiQL playground (src/graphql/playground.rs, include_bytes!), so `cargo run` serves a
# working GraphiQL with no npm step and no network.
#
# Usage: change the versions in playground/package.json, then
#   bash playground/update-vendor.sh
# It runs `npm ci` (or `npm install` when the versions changed) in playground/, copies each
# build listed below into playground/vendor/ byte for byte with its package's licence, and
# writes playground/vendor/MANIFEST (package, version, file, sha256). A unit test checks the
# embedded files against the manifest. Commit package.json, package-lock.json and vendor/.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

# package  path inside the package  vendored name
FILES=(
  "react react/umd/react.production.min.js react.production.min.js"
  "react-dom react-dom/umd/react-dom.production.min.js react-dom.production.min.js"
  "graphiql graphiql/graphiql.min.js graphiql.min.js"
  "graphiql graphiql/graphiql.min.css graphiql.min.css"
  "graphql-ws graphql-ws/umd/graphql-ws.min.js graphql-ws.min.js"
)

if ! npm ci --no-audit --no-fund; then
  npm install --no-audit --no-fund
fi

rm -rf vendor
mkdir -p vendor/licenses
{
  echo "# The published browser builds the GraphiQL playground embeds, unmodified."
  echo "# Written by playground/update-vendor.sh: package version file sha256"
} >vendor/MANIFEST
for entry in "${FILES[@]}"; do
  read -r package source name <<<"$entry"
  version=$(node -p "require('./node_modules/$package/package.json').version")
  cp "node_modules/$source" "vendor/$name"
  licence=$(find "node_modules/$package" -maxdepth 1 -iname 'license*' | head -n 1)
  [[ -n $licence ]] || { echo "no licence file in node_modules/$package" >&2; exit 1; }
  cp "$licence" "vendor/licenses/$package.LICENSE"
  echo "$package $version $name $(sha256sum "vendor/$name" | cut -d' ' -f1)" >>vendor/MANIFEST
done
cat vendor/MANIFEST
