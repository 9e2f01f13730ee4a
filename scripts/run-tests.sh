#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run): installs the dependencies, then
#   1. builds build/ (RelWithDebInfo) and runs every ctest test in it;
#   2. builds build-asan/ with AddressSanitizer + UBSan (-DRRVM_SANITIZE=ON) and runs the
#      unit and conformance tests (ctest labels "unit" and "conformance") there.
# Ends with one line "N passed, M failed, K skipped" over both runs and exits nonzero if
# anything failed to build or any test failed. Skipped tests are listed loudly: a skip is
# not a pass.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

JOBS=${JOBS:-2}
# The guest kernels are built by direct compiler calls (no sanitizer flags reach them) and
# cost seconds, so the sanitizer build keeps them; RRVM_ASAN_GUESTS=OFF leaves them out.
ASAN_GUESTS=${RRVM_ASAN_GUESTS:-ON}

total_passed=0
total_failed=0
total_skipped=0
failed_steps=()
skipped_list=()

step() { printf '\n==== run-tests: %s\n' "$*"; }

# run_ctest NAME LOG ARGS...: runs ctest, keeps its output in LOG and adds its counts to
# the totals. A run without ctest's summary line counts as one failure.
run_ctest() {
  local name=$1 log=$2
  shift 2
  local status=0
  ctest "$@" 2>&1 | tee "$log" || status=$?
  local summary
  summary=$(grep -E '^[0-9]+% tests? passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
  if [[ -z "$summary" ]]; then
    echo "run-tests: $name: ctest printed no summary (exit status $status)" >&2
    total_failed=$((total_failed + 1))
    failed_steps+=("$name (no test summary)")
    return
  fi
  local failed total skipped
  failed=$(sed -E 's/^.* ([0-9]+) tests? failed out of ([0-9]+).*$/\1/' <<<"$summary")
  total=$(sed -E 's/^.* tests? failed out of ([0-9]+).*$/\1/' <<<"$summary")
  # "The following tests did not run:" lists skipped/disabled tests as "  N - name (Skipped)".
  local skipped_lines
  skipped_lines=$(sed -n '/^The following tests did not run:/,/^$/p' "$log" |
                  grep -E '^[[:space:]]*[0-9]+ - .*\((Skipped|Disabled)\)' || true)
  skipped=0
  if [[ -n "$skipped_lines" ]]; then
    skipped=$(wc -l <<<"$skipped_lines")
    while IFS= read -r line; do
      skipped_list+=("$name: $(sed -E 's/^[[:space:]]+//' <<<"$line")")
    done <<<"$skipped_lines"
  fi
  local passed=$((total - failed - skipped))
  ((passed < 0)) && passed=0
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  total_skipped=$((total_skipped + skipped))
  if ((failed > 0 || status != 0)); then
    failed_steps+=("$name ($failed of $total tests failed, ctest exit status $status)")
    # ctest failed without failing a test (e.g. no tests matched): still a failure.
    ((failed == 0)) && total_failed=$((total_failed + 1))
  fi
}

# build DIR ARGS...: configures and builds DIR; a failure is recorded and returns 1.
build() {
  local dir=$1
  shift
  if ! cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"; then
    failed_steps+=("configure $dir")
    total_failed=$((total_failed + 1))
    return 1
  fi
  if ! cmake --build "$dir" -j"$JOBS"; then
    failed_steps+=("build $dir")
    total_failed=$((total_failed + 1))
    return 1
  fi
}

step "installing dependencies"
if ! bash scripts/install-deps.sh; then
  echo "run-tests: could not install the dependencies" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

step "build/ (RelWithDebInfo)"
if build build; then
  step "ctest in build/"
  run_ctest "build" build/ctest.log --test-dir build --output-on-failure -j"$JOBS" \
    --timeout 300 --no-tests=error
fi

step "build-asan/ (AddressSanitizer + UndefinedBehaviorSanitizer)"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if build build-asan -DRRVM_SANITIZE=ON -DRRVM_GUESTS="$ASAN_GUESTS"; then
  step "ctest -L 'unit|conformance|fuzz' in build-asan/"
  run_ctest "build-asan" build-asan/ctest.log --test-dir build-asan -L 'unit|conformance|fuzz' \
    --output-on-failure -j"$JOBS" --timeout 600 --no-tests=error
fi

step "summary"
if ((${#skipped_list[@]} > 0)); then
  echo "!!!!!!!! ${#skipped_list[@]} TEST(S) SKIPPED: they did not run, they did not pass !!!!!!!!"
  for s in "${skipped_list[@]}"; do echo "!!!   SKIPPED $s"; done
fi
if ((${#failed_steps[@]} > 0)); then
  for f in "${failed_steps[@]}"; do echo "run-tests: FAILED: $f"; done
fi
if ((total_skipped > 0)); then
  echo "$total_passed passed, $total_failed failed, $total_skipped skipped"
else
  echo "$total_passed passed, $total_failed failed"
fi
if ((${#failed_steps[@]} > 0 || total_failed > 0)); then
  exit 1
fi
exit 0
