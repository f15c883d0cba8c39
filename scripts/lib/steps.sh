# Sourced by scripts/setup, scripts/demo, scripts/test: `step "what it does" command args...`
# runs the command with its output going to one log file, and prints one line: what it
# did and how long it took. On failure it names the log and shows its last lines, and
# the script stops (set -e). STEPS_LOG names the log (default .build/virtuallan-steps.log,
# appended to). STEPS_VERBOSE=1 shows every line instead (the log still gets them).
STEPS_LOG=${STEPS_LOG:-$PWD/.build/virtuallan-steps.log}
mkdir -p "$(dirname "$STEPS_LOG")"

step() {
  local what=$1; shift
  local started=$SECONDS status=0
  printf '== %s: %s\n' "$(date -u +%H:%M:%S)" "$what $*" >>"$STEPS_LOG"
  printf '%s ... ' "$what"
  if [ "${STEPS_VERBOSE:-0}" = 1 ]; then
    echo
    "$@" 2>&1 | tee -a "$STEPS_LOG" || status=${PIPESTATUS[0]}
  else
    "$@" >>"$STEPS_LOG" 2>&1 </dev/null || status=$?
  fi
  if [ "$status" -ne 0 ]; then
    echo "FAILED after $((SECONDS - started)) s (exit $status)"
    echo "---- last lines of $STEPS_LOG ----" >&2
    tail -n 25 "$STEPS_LOG" >&2
    echo "---- the full log: $STEPS_LOG ----" >&2
    return "$status"
  fi
  echo "done ($((SECONDS - started)) s)"
}

# True when wine/out lacks the Windows files or a source of theirs is newer than the DLL
# (wine/build-dll takes ~45 s: scripts/demo and scripts/package skip it when fresh).
windows_files_stale() {
  [ ! -f wine/out/virtuallan.dll ] || [ ! -f wine/out/inject.exe ] || [ ! -f wine/out/fo2sim.exe ] \
    || [ -n "$(find Sources/VirtualIPCore Sources/WinsockDetours Sources/CWineBridge wine/fo2sim wine/inject wine/tests \
                 wine/build-dll -newer wine/out/virtuallan.dll -type f | head -n 1)" ]
}
