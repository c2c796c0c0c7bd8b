#!/usr/bin/env bash
# Runs SPIN on M1, M2 or M3 (bench/peers/README.md) and prints one JSON line.
#
#   bench/peers/spin/run.sh [--model m1|m2|m3] T N fixed|buggy [extra pan flags]
#
# Builds in a temporary folder under bench/peers/spin/work/ (gitignored): spin -a, then
# gcc -O2 -DSAFETY -DNOCLAIM (-DBFS as well for the buggy variant, which makes the trail a
# shortest counterexample; SEARCH=dfs in the environment keeps the depth-first search), then
# ./pan. Installs nothing: needs `spin` and `gcc` (exit 2 if missing); /usr/bin/time gives
# the peak RSS (rss_kb is null without it). KEEP=1 keeps the work folder. Environment:
# MEMLIM (MB, default 16000), PAN_W (hash table 2^k slots; default from the model size).
# See COUNTS.md for what "states", "transitions" and "cx_len" count.
set -euo pipefail

usage() { echo "usage: $0 [--model m1|m2|m3] T N fixed|buggy [extra pan flags]" >&2; exit 2; }
MODEL=m1
if [ "${1:-}" = --model ]; then
  [ $# -ge 2 ] || usage
  MODEL=$2
  shift 2
fi
case "$MODEL" in m1|m2|m3) ;; *) usage ;; esac
[ $# -ge 3 ] || usage
T=$1 N=$2 VARIANT=$3
shift 3
case "$T" in 1|2|3|4) ;; *) echo "T must be 1..4" >&2; exit 2 ;; esac
case "$N" in [1-8]) ;; *) echo "N must be 1..8" >&2; exit 2 ;; esac
case "$VARIANT" in
  fixed) BUGGY=0 ;;
  buggy) BUGGY=1 ;;
  *) usage ;;
esac

for tool in spin gcc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "error: '$tool' not found on PATH (install it, e.g. apt-get install -y $tool)" >&2
    exit 2
  fi
done
TIME=/usr/bin/time
[ -x "$TIME" ] || TIME=""

HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$HERE/work"
WORK=$(mktemp -d "$HERE/work/$MODEL-T$T-N$N-$VARIANT.XXXXXX")
if [ "${KEEP:-0}" != 1 ]; then trap 'rm -rf "$WORK"' EXIT; fi
cp "$HERE/$MODEL.pml" "$WORK/"
cd "$WORK"

# Hash table: 2^w slots, about twice the reachable states of the fixed model (pgtable's
# counts); 28 for the cell not listed (T=4 N=8). The buggy variant stops at its first error
# after a few hundred states at most, so a small table does (a big one costs seconds to clear).
if [ -z "${PAN_W:-}" ]; then
  case "$MODEL.$BUGGY.$T.$N" in
    *.1.*) PAN_W=18 ;;
    m3.0.4.8) PAN_W=23 ;;
    m3.0.4.4) PAN_W=18 ;;
    m3.*) PAN_W=17 ;;
    m2.0.3.8) PAN_W=23 ;;
    m2.0.4.4) PAN_W=21 ;;
    m2.0.4.8) PAN_W=28 ;;
    m2.*) PAN_W=17 ;;
    m1.0.2.8|m1.0.3.4|m1.0.4.2) PAN_W=17 ;;
    m1.0.4.4) PAN_W=20 ;;
    m1.0.3.8) PAN_W=22 ;;
    m1.0.4.8) PAN_W=28 ;;
    *) PAN_W=16 ;;
  esac
fi
MEMLIM=${MEMLIM:-16000}
# The state graph is acyclic and no path is longer than 5*N*T <= 160 steps (M2: 10*N*T
# <= 320; M3: at most 12*N per thread, <= 384), so this depth bound never truncates the
# search (checked below anyway).
DEPTH=10000

DFLAGS=(-DN="$N" -DT="$T" -DBUGGY="$BUGGY")
CFLAGS=(-O2 -DSAFETY -DNOCLAIM -DMEMLIM="$MEMLIM")
MODE="pan -DSAFETY"
if [ "$BUGGY" = 1 ] && [ "${SEARCH:-bfs}" = bfs ]; then
  CFLAGS+=(-DBFS)
  MODE="pan -DSAFETY -DBFS"
fi

now() { date +%s.%N; }
t0=$(now)
spin "${DFLAGS[@]}" -a "$MODEL.pml" >spin-a.log 2>&1 || { cat spin-a.log >&2; echo "error: spin -a failed" >&2; exit 1; }
gcc "${CFLAGS[@]}" -o pan pan.c >gcc.log 2>&1 || { cat gcc.log >&2; echo "error: gcc failed" >&2; exit 1; }
t1=$(now)

set +e
if [ -n "$TIME" ]; then
  "$TIME" -f %M -o rss.txt ./pan -m"$DEPTH" -w"$PAN_W" "$@" >pan.log 2>&1
else
  ./pan -m"$DEPTH" -w"$PAN_W" "$@" >pan.log 2>&1
fi
t2=$(now)
set -e

if grep -q "max search depth too small" pan.log; then
  cat pan.log >&2
  echo "error: pan's search was truncated (max search depth too small for -m$DEPTH)" >&2
  exit 3
fi
if grep -qE "out of memory|pan: error|Search not completed" pan.log && ! grep -qE "errors: [1-9]" pan.log; then
  cat pan.log >&2
  echo "error: pan did not complete its search" >&2
  exit 3
fi
num() { grep -E "$1" pan.log | head -1 | awk '{print $1}'; }
STATES=$(num "states, stored")
TRANS=$(num "transitions \(= stored\+matched\)")
ERRORS=$(grep -oE "errors: [0-9]+" pan.log | awk '{print $2}')
if [ -z "$STATES" ] || [ -z "$TRANS" ] || [ -z "$ERRORS" ]; then
  cat pan.log >&2
  echo "error: could not read pan's output" >&2
  exit 3
fi

VERDICT=holds
CX=null
if [ "$ERRORS" != 0 ]; then
  VERDICT=violated
  # Replay: every model step is one d_step, one trail step; the count includes the step
  # whose assert failed (= pan's "at depth D" + 1).
  spin -t "${DFLAGS[@]}" "$MODEL.pml" >replay.log 2>&1 || true
  CX=$(grep -oE "trail ends after [0-9]+ steps" replay.log | awk '{print $4}')
  if [ -z "$CX" ]; then
    D=$(grep -oE "at depth [0-9]+" pan.log | head -1 | awk '{print $3}')
    CX=$(( ${D:-0} + 1 ))
  fi
fi

RSS=null
if [ -n "$TIME" ] && [ -s rss.txt ]; then RSS=$(tail -1 rss.txt); fi
SECS=$(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.3f", b-a}')
CSECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')

printf '{"tool":"spin","mode":"%s","model":"%s","threads":%s,"pmds":%s,"variant":"%s","verdict":"%s","states":%s,"transitions":%s,"cx_len":%s,"seconds":%s,"compile_seconds":%s,"rss_kb":%s}\n' \
  "$MODE" "${MODEL^^}" "$T" "$N" "$VARIANT" "$VERDICT" "$STATES" "$TRANS" "$CX" "$SECS" "$CSECS" "$RSS"
