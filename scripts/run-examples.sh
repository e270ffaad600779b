#!/usr/bin/env bash
# Builds the release preset and runs every example (and docs snippet) binary in
# build/release/examples/, each with the arguments in examples/<name>.args
# (docs/snippets/<name>.args for snippet_<name>) when that file exists.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/deps.sh
cmake --workflow --preset release

bin_dir=build/release/examples
ran=0
failed=0
shopt -s nullglob
for exe in "$bin_dir"/*; do
  [[ -f "$exe" && -x "$exe" ]] || continue
  name=$(basename "$exe")
  args_file="examples/${name}.args"
  [[ "$name" == snippet_* ]] && args_file="docs/snippets/${name#snippet_}.args"
  args=()
  # Quotes in .args group words, as they do for the ctest (separate_arguments UNIX_COMMAND).
  if [[ -f "$args_file" ]]; then mapfile -t args < <(xargs printf '%s\n' < "$args_file"); fi
  echo "== run-examples: ${name} ${args[*]}"
  if "$exe" "${args[@]}"; then
    ran=$((ran + 1))
  else
    echo "run-examples: ${name} FAILED (exit $?)" >&2
    failed=$((failed + 1))
  fi
done
echo "run-examples: ${ran} passed, ${failed} failed"
[[ $failed -eq 0 ]]
