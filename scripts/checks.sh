#!/usr/bin/env bash
# The guard rails that run before the tests (`deno task check`, and .ci/run): lint, format, type-check every
# entry point, run every JSDoc example in src/ as a doc test, and lint the documentation of the public API.
# Each step prints "== NAME" and, when it fails, "FAILED: NAME"; every step runs even after a failure, so one
# run shows all there is to fix.
# Exits 1 when any step failed. Needs node_modules (npm ci), not the test suite.
set -uo pipefail
cd "$(dirname "$0")/.."
deno=./node_modules/.bin/deno
export NO_COLOR=1

# startDevice's example boots the emulated device, which needs QEMU and the RISC-V toolchain: installed
# (as root) or named as missing, as the test task does. Prints nothing when everything is there.
bash scripts/install_system_tools.sh

failed=()
step() {
  local name=$1
  shift
  echo "== $name"
  local start=$EPOCHREALTIME
  "$@"
  local status=$?
  local seconds
  seconds=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
  if [ "$status" -eq 0 ]; then
    echo "ok: $name (${seconds} s)"
  else
    echo "FAILED: $name (exit $status, ${seconds} s)"
    failed+=("$name")
  fi
}

step "deno lint" "$deno" lint
step "deno fmt --check" "$deno" fmt --check
# Every entry point: the CLI, the library (all of src/, not only what mod.ts reaches), benchmarks, examples,
# the firmware build script and the tests. core-as/ is AssemblyScript, checked by its own compiler
# (`deno task build`, tests/wasm_build_test.ts).
step "deno check" "$deno" check main.ts src/ bench/ examples/ firmware/build.ts tests/
# Fenced ```ts blocks in JSDoc are type-checked and run, each as its own test with Deno's sanitizers, so an
# example that leaves a socket or timer open fails.
step "deno test --doc src/" "$deno" test -A --doc src/
# The library's public face, as JSR and `deno doc` show it: every symbol mod.ts exports has JSDoc and an
# explicit type, and every type such a symbol mentions is exported too.
step "deno doc --lint src/mod.ts" "$deno" doc --lint src/mod.ts

if [ ${#failed[@]} -eq 0 ]; then
  echo "checks: all passed"
  exit 0
fi
summary=$(printf '%s; ' "${failed[@]}")
echo "checks: ${#failed[@]} of 5 failed (${summary%; })"
exit 1
