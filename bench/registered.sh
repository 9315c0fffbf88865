#!/usr/bin/env bash
# Are io_uring registered buffers (READ_FIXED) and registered files (IOSQE_FIXED_FILE)
# worth building into caio? Measures them in the C ceiling (ceiling-reads.c) on the W1,
# W2 and W3 shapes, each point in four variants: plain, fixed-buffers, fixed-file, both.
#
#   bench/registered.sh [ROUNDS] [SECONDS] [FILE]
#
# The variants run interleaved (A B C D A B C D ...), ROUNDS times (default 7) for
# SECONDS each (default 2), because a shared 2-vCPU machine drifts over minutes and
# interleaving spreads that drift over every variant alike. Every run's JSON line goes
# to bench/.data/registered/runs.jsonl with the process's CPU time per read added
# (cpu_ns: user + system over counted reads). The summary prints, per point and variant,
# the median and min-max of IOPS and its change against plain, the median of the
# per-round ratios to plain (each round's plain ran seconds before, so this cancels slow
# drift), the median CPU per read (what registration saves is CPU on the submission
# path; other processes taking the CPU lower IOPS far more than they change it) and, for
# the latency point, p50. FILE defaults to the bench's 256 MiB read file (make it with the bench
# first); it should be in the page cache for the cached points (check with fincore).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rounds=${1:-7}
seconds=${2:-2}
file=${3:-$here/.data/read-268435456.bin}
out=$here/.data/registered
mkdir -p "$out"
binary=$out/ceiling-reads
"${CC:-cc}" -std=gnu11 -O2 -Wall -Wextra -Werror -o "$binary" "$here/ceiling-reads.c" -luring -lm
[ -r "$file" ] || { echo "registered.sh: no $file (run the bench once to make it)" >&2; exit 1; }

# point name | ceiling-reads arguments after FILE BLOCK (depth, then flags)
points=(
  "W1 cached d64|64"
  "W2 direct d1|1 direct"
  "W2 direct d4|4 direct"
  "W2 direct d16|16 direct"
  "W2 direct d64|64 direct"
  "W3 cached d1 latency|1 latency"
)
variants=("plain|" "fixed-buffers|fixed-buffers" "fixed-file|fixed-file" "both|fixed-buffers fixed-file")

# Runs one ceiling-reads and appends its JSON line, labelled, with cpu_ns added.
TIMEFORMAT='%3U %3S'
measure() {
  local point=$1 variant=$2 round=$3 cpu
  shift 3
  # the program writes nothing on stderr unless it fails, so stderr is just `time`'s line
  cpu=$({ time "$binary" "$@" >"$out/result"; } 2>&1) || { echo "$cpu" >&2; exit 1; }
  jq -c --arg point "$point" --arg variant "$variant" --argjson round "$round" --arg cpu "$cpu" \
    '{point: $point, variant: $variant, round: $round} + .
     + {cpu_ns: (($cpu | split(" ") | map(tonumber) | add) * 1e9 / .reads | round)}' "$out/result" >>"$runs"
}

runs=$out/runs.jsonl
: >"$runs"
echo "memlock (ulimit -l): $(ulimit -l); kernel $(uname -r); rounds $rounds x ${seconds}s" >&2
for ((round = 1; round <= rounds; round++)); do
  echo "round $round/$rounds" >&2
  for point in "${points[@]}"; do
    name=${point%%|*}
    read -r depth flags <<<"${point#*|}"
    for variant in "${variants[@]}"; do
      # shellcheck disable=SC2086 # the flags are separate words
      measure "$name" "${variant%%|*}" "$round" "$file" 4096 "$depth" "$seconds" $flags ${variant#*|}
    done
  done
done

# Per point and variant: medians (lower middle for an even count), min-max, and changes
# against the same point's plain variant.
jq -rs '
  def median: sort | .[(length - 1) / 2 | floor];
  def pct(x): ((x - 1) * 1000 | round / 10 | tostring) + "%";
  (reduce .[].point as $p ([]; if index($p) then . else . + [$p] end)) as $order
  | group_by(.point) | sort_by(.[0].point as $p | $order | index($p)) | map(
    (map(select(.variant == "plain"))) as $plain
    | ($plain | map(.iops) | median) as $plain_iops
    | ($plain | map(.cpu_ns) | median) as $plain_cpu
    | ($plain | map(.p50 // 0) | median) as $plain_p50
    | group_by(.variant) | sort_by(.[0].variant as $v | ["plain", "fixed-buffers", "fixed-file", "both"] | index($v))
    | .[] | (map(.iops) | median) as $iops | (map(.cpu_ns) | median) as $cpu
    | (map(.round as $r | .iops / ($plain[] | select(.round == $r) | .iops)) | median) as $paired
    | [.[0].point, .[0].variant, ($iops | round), "\(map(.iops) | min | round)-\(map(.iops) | max | round)",
       pct($iops / $plain_iops), pct($paired), $cpu, pct($cpu / $plain_cpu)]
      + (if .[0].p50 then (map(.p50) | median) as $p50
           | [$p50, "\(map(.p50) | min)-\(map(.p50) | max)", pct($p50 / $plain_p50)] else [] end)
  ) | (["point", "variant", "iops", "iops min-max", "vs plain", "paired", "cpu ns/read", "vs plain",
        "p50 ns", "p50 min-max", "vs plain"] | @tsv), (.[] | @tsv)
' "$runs" | column -t -s $'\t'
