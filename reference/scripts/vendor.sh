#!/usr/bin/env bash
# Fetch the dashboard's browser libraries from npm as pinned files, with their licences, into
# src/durable_engine/dashboard/static/vendor/ (committed: the engine serves them, never a CDN).
# Run it again after changing a pin below; it checks each tarball's npm integrity hash.
set -euo pipefail
cd "$(dirname "$0")/../src/durable_engine/dashboard/static/vendor"

# package@version  file-in-package  -> served name
PINS=(
  "htmx.org@2.0.11 dist/htmx.min.js htmx.min.js"
  "htmx-ext-sse@2.2.4 dist/sse.min.js htmx-sse.min.js"
  "uplot@1.6.32 dist/uPlot.iife.min.js uplot.min.js"
  "uplot@1.6.32 dist/uPlot.min.css uplot.min.css"
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: > VERSIONS.txt
for pin in "${PINS[@]}"; do
  read -r spec file name <<<"$pin"
  package=${spec%@*}
  tarball="$work/$(echo "$spec" | tr '@/' '__').tgz"
  if [ ! -f "$tarball" ]; then
    mkdir -p "$work/pack" && rm -f "$work"/pack/*.tgz
    (cd "$work/pack" && npm pack --silent "$spec" >/dev/null) && mv "$work"/pack/*.tgz "$tarball"
    expected=$(npm view "$spec" dist.integrity)
    actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
    [ "$expected" = "$actual" ] || { echo "integrity mismatch for $spec" >&2; exit 1; }
    mkdir -p "$work/${package}"
    tar -xzf "$tarball" -C "$work/${package}"
  fi
  cp "$work/${package}/package/$file" "$name"
  licence=$(ls "$work/${package}/package/" | grep -i -m1 '^licen[cs]e' || true)
  [ -n "$licence" ] && cp "$work/${package}/package/$licence" "LICENSE.${package}.txt"
  echo "$spec $file -> $name sha256:$(sha256sum "$name" | cut -d' ' -f1)" >> VERSIONS.txt
done
cat VERSIONS.txt
