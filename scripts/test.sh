#!/usr/bin/env bash
# Runs every test: formatting, lints, unit and integration tests, the pysaml2 interop test, and
# the client generated from the API's OpenAPI document.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
# PostgreSQL for the register suite: the local server, or a throwaway cluster.
source scripts/test-postgres.sh
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
# The shape of the tree first (no circles between modules at any depth, layers respected): it
# runs in a second and says which paths tie a circle.
cargo test --test architecture
cargo test --all-targets
tests/interop/run.sh
tests/api-client/run.sh
tests/deploy/run.sh
