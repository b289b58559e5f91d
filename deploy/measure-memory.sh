#!/usr/bin/env bash
# Measures halfclosed's resident memory (VmRSS, and the peak VmHWM from
# /proc) idle and under the loads that bound a pod's memory, with the
# Deployment's own flags (set GOMEMLIMIT as the Deployment does to see
# its pods'). docs/deploy.md ("Sizing") has the figures it printed; the
# requests and limits come from the per-job bound (halfclosed
# --print-limits), which these loads stay well under.
#
#   make build tools && deploy/measure-memory.sh
#
# Loopback only; every load is bounded in calls and bytes; the server is
# stopped at the end (and on error).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/bin}
JOBS=${JOBS:-16}           # the Deployment's --max-jobs
SPOOL_MEM=${SPOOL_MEM:-8MiB}
work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
G=127.0.0.1:$(port) T=127.0.0.1:$(port)

# Each scenario starts a fresh server so that each peak is its own. Every
# load here comes from one address (127.0.0.1), where a pod's comes from
# many: --max-jobs-per-peer 0 lifts the per-peer cap (by default a quarter of
# --max-jobs but at least 16), which over 16 jobs would refuse all but
# max(16, $JOBS/4) of the jobs run at once; --max-requests-per-peer 0 lifts
# an address's share of --grpc-max-requests (28 streams here), which
# refused about 1 in 20 of the 50-at-a-time Digest calls below.
start() {
  "$BIN/halfclosed" --grpc-addr "$G" --tcp-addr "$T" --health-addr "" --max-jobs "$JOBS" --max-jobs-per-peer 0 \
    --max-requests-per-peer 0 \
    --spool-mem "$SPOOL_MEM" --spool-dir "$work" --log-level warn ${ARGS:-} &
  pid=$!
  for _ in $(seq 100); do nc -z 127.0.0.1 "${G##*:}" 2>/dev/null && return; sleep 0.05; done
  echo "halfclosed did not start" >&2; exit 1
}
stop() { kill -TERM "$pid"; wait "$pid" || true; pid=""; }
mem() { awk -v what="$1" '/^VmRSS|^VmHWM/ {v[$1]=$2} END {printf "%-44s VmRSS %4d MiB  peak VmHWM %4d MiB\n", what, v["VmRSS:"]/1024, v["VmHWM:"]/1024}' "/proc/$pid/status"; }

head -c 1024 /dev/urandom > "$work/1k"
head -c $((32 << 20)) /dev/urandom | base64 -w 100 > "$work/lines"   # 43 MiB of text lines
head -c $((24 << 20)) /dev/urandom > "$work/24m"
sha=$(sha256sum < "$work/1k" | cut -c1-64)
data=$(base64 -w0 "$work/1k")

start; mem "idle"; stop

start
"$BIN/ghz" --insecure --call halfclose.v1.ComputeService.Digest \
  -d "[{\"header\":{\"algorithms\":[\"ALGORITHM_SHA256\"],\"expected_digests\":[{\"algorithm\":\"ALGORITHM_SHA256\",\"hex\":\"$sha\"}]}},{\"data\":\"$data\"}]" \
  -n 20000 -c 50 --connections 4 "$G" > "$work/ghz"
# ghz exits 0 whatever its calls got: a refused call would leave a peak
# measured with fewer calls. Its summary counts the calls by status
# ("[OK]   20000 responses") and lists the errors when there are any.
if ! grep -Eq '^ +\[OK\] +20000 responses' "$work/ghz" || grep -q 'Error distribution' "$work/ghz"; then
  cat "$work/ghz" >&2; echo "not every Digest call succeeded: the figures would be wrong" >&2; exit 1
fi
mem "after 20k small Digest calls, 50 at a time"; stop

# $JOBS jobs at once, each as big as one job gets: sort keeps --spool-mem of
# lines and spills the rest; base64 streams 32 MiB back through its reply
# spool; sha256sum streams 43 MiB in.
for scenario in "sort" "base64" "sha256sum"; do
  start
  in="$work/lines"; [ "$scenario" = base64 ] && in="$work/24m"
  for _ in $(seq "$JOBS"); do "$BIN/halfclose" --addr "$G" "$scenario" < "$in" > /dev/null & done
  # Every job must succeed: a refused or failed one would leave a peak
  # measured with fewer jobs (wait with several ids returns only the last's).
  for j in $(jobs -p | grep -v "^$pid\$"); do
    wait "$j" || { echo "a $scenario job failed: the figures would be wrong" >&2; exit 1; }
  done
  mem "$JOBS × $scenario at once ($(du -m "$in" | cut -f1) MiB in each)"; stop
done
