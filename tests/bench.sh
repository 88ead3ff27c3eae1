#!/usr/bin/env bash
# Benchmark: a province-scale synthetic inbox and one 200,000-row
# household-income sheet, each run parsing every file into a Parquet lake
# (--full-refresh), with and without worker isolation; then the nightly run
# on the province inbox: first run, unchanged rerun, one resubmission;
# then the indicator and report stages alone on the province lake.
# Prints wall time, rows/s and peak memory. Usage: bash tests/bench.sh [DIR]
# Builds the `dist` profile (fat LTO) that the figures of docs/benchmarks.md were measured
# with; PROFILE=release bash tests/bench.sh measures the quick-build profile.
#
# bash tests/bench.sh --national [DIR]: the national scale instead
# (synth --scale national, about 490,000 villages and 120,000 files): the
# generator, a first run, an unchanged rerun, one county's resubmission,
# then indicators and report alone; wall time and peak memory of each.
# Needs about 8 GB of disk; INDICATORS=0 skips the indicator and report stages.
#
# bash tests/bench.sh --rejects [DIR]: memory bounded by limits, not by
# rejected rows: a nightly run over one CSV of ROWS (default 1,000,000)
# rows that are all unknown villages, and `validate --annotate` of one with
# 50,000; wall time and peak memory of each (goal: 500 MiB each).
set -euo pipefail
cd "$(dirname "$0")/.."
national=0
rejects=0
if [ "${1:-}" = "--national" ]; then
  national=1
  shift
elif [ "${1:-}" = "--rejects" ]; then
  rejects=1
  shift
fi
work=${1:-$(mktemp -d)}
profile=${PROFILE:-dist}
cargo build --profile "$profile" --quiet
# (cargo's dev profile builds into target/debug)
zx=target/$([ "$profile" = dev ] && echo debug || echo "$profile")/zhenxing
export ZHENXING_KEY=${ZHENXING_KEY:-$(printf 'be%.0s' $(seq 32))}
# one timed command: label, then the command; prints wall s and peak MiB
timed() {
  local label=$1; shift
  local out
  out=$(/usr/bin/time -f "%e %M" "$@" 2>"$work/time.txt" || true)
  read -r wall rss < <(tail -1 "$work/time.txt")
  echo "$label: wall ${wall} s, peak RSS $((rss / 1024)) MiB"
  [ -z "$out" ] || echo "   ${out}" | cut -c1-600
}
if [ "$rejects" = 1 ]; then
  rows=${ROWS:-1000000}
  county="$work/rejects-inbox/如皋市"
  mkdir -p "$county"
  unknown() {
    awk -v n="$1" 'BEGIN { print "县(市、区),镇(街道),村(社区),培训人次";
      for (i = 0; i < n; i++) printf "如皋市,义德街道,无此村%d,12\n", i }'
  }
  unknown "$rows" > "$county/如皋市_党员培训与双带统计表_2024.csv"
  rm -rf "$work/rejects-out" "$work/annotated"
  timed "run over $rows rejected rows" $zx run -q --no-indicators --inbox "$work/rejects-inbox" \
    --registry sample_data/registry/南通市村社区名录.xlsx --out "$work/rejects-out"
  unknown 50000 > "$work/如皋市_党员培训与双带统计表_2023.csv"
  # (its 50,000 problem lines go to /dev/null; time reports the largest process)
  timed "validate --annotate of 50,000 problem cells" sh -c "$zx validate \
    --registry sample_data/registry/南通市村社区名录.xlsx --annotate '$work/annotated' \
    '$work/如皋市_党员培训与双带统计表_2023.csv' > /dev/null"
  echo "(work folder: $work)"
  exit 0
fi
if [ "$national" = 1 ]; then
  mkdir -p "$work"
  nat="$work/national"
  if [ ! -d "$nat/inbox" ]; then
    timed "synth --scale national" $zx synth --scale national --out "$nat"
  fi
  reg="$nat/registry/南通市村社区名录.xlsx"
  echo "== national inbox: $(find "$nat/inbox" -type f | wc -l) files, $(du -sh "$nat/inbox" | cut -f1)"
  lake="$work/national-out"
  rm -rf "$lake"
  # the runs publish the lake only; the indicator stage is timed on its own
  nrun=("$zx" run -q --no-indicators --inbox "$nat/inbox" --registry "$reg" --out "$lake")
  timed "first run (empty lake)" "${nrun[@]}"
  timed "rerun, nothing new" "${nrun[@]}"
  one=$(find "$nat/inbox" -name '*村级集体经济收入统计表_2024.csv' | sort | sed -n 1p)
  cp "$one" "${one%.csv}_更正.csv" && printf '\n' >> "${one%.csv}_更正.csv"
  timed "rerun after one county resubmits one file" "${nrun[@]}"
  rm -f "${one%.csv}_更正.csv"
  # INDICATORS=0 stops after the lake (the national indicator stage needs
  # more memory and time than the lake does, see docs/benchmarks.md)
  if [ "${INDICATORS:-1}" != 0 ]; then
    timed "indicators alone" $zx indicators --out "$lake"
    timed "report alone" $zx report --out "$lake"
  fi
  du -sh "$lake/.zhenxing/versions" "$lake/.zhenxing/segments" | sed 's/^/   disk: /'
  echo "(work folder: $work)"
  exit 0
fi
# ingest timings: every run parses every file (--full-refresh) into a scratch lake
scratch="$work/scratch-out"
if [ ! -d "$work/province/inbox" ]; then
  /usr/bin/time -f "synth: %e s" $zx synth --scale province --out "$work/province" --household-sheet-rows 200000
fi
reg="$work/province/registry/南通市村社区名录.xlsx"
files=$(find "$work/province/inbox" -type f | wc -l)
echo "== province inbox: $files files"
for mode in "" "--no-isolation"; do
  for jobs in 2 1; do
    out=$(/usr/bin/time -f "%e %M" $zx run -q $mode --full-refresh --out "$scratch" --jobs $jobs --inbox "$work/province/inbox" --registry "$reg" 2>"$work/time.txt" || true)
    read -r wall rss < <(tail -1 "$work/time.txt")
    echo "run ${mode:-(isolated)} --jobs $jobs: wall ${wall} s, peak RSS of the main process $((rss / 1024)) MiB"
    echo "   ${out}"
  done
done
echo "== one 200,000-row household-income sheet (10 columns), 5 runs each"
mkdir -p "$work/big-inbox"
cp "$work"/province/big/*.xlsx "$work/big-inbox/"
for mode in "" "--no-isolation"; do
  for i in 1 2 3 4 5; do
    out=$(/usr/bin/time -f "%e %M" $zx run -q $mode --full-refresh --out "$scratch-big" --inbox "$work/big-inbox" --registry "$reg" 2>"$work/time.txt" || true)
    read -r wall rss < <(tail -1 "$work/time.txt")
    echo "run ${mode:-(isolated)}: wall ${wall} s (whole command), peak RSS $((rss / 1024)) MiB"
  done
  echo "   ${out}"
done
# the reference the speed bar is set against, when python-polars is installed
if python3 -c "import polars, fastexcel" 2>/dev/null; then
  for i in 1 2 3 4 5; do
    inner=$(/usr/bin/time -f "%e" python3 tests/bench_polars.py "$work"/big-inbox/*.xlsx 2>"$work/time.txt")
    echo "python-polars read_excel + cleaning + write_parquet: ${inner} s inside the script, $(tail -1 "$work/time.txt") s whole command"
  done
else
  echo "(python-polars not installed: pip install polars fastexcel for the comparison)"
fi
echo "== the nightly run on the province inbox: first run, unchanged rerun, one county resubmits one file"
lake="$work/province-out"
rm -rf "$lake"
timed_run() {
  local label=$1; shift
  out=$(/usr/bin/time -f "%e %M" $zx run -q --inbox "$work/province/inbox" --registry "$reg" --out "$lake" "$@" 2>"$work/time.txt" || true)
  read -r wall rss < <(tail -1 "$work/time.txt")
  echo "$label: wall ${wall} s, peak RSS of the main process $((rss / 1024)) MiB"
  echo "   ${out}" | cut -c1-400
}
timed_run "first run (empty lake)"
timed_run "rerun, nothing new"
# one county resubmits one file: a corrected copy (new bytes: a trailing blank line)
one=$(find "$work/province/inbox" -name '*村级集体经济收入统计表_2024.csv' | sort | sed -n 1p)
cp "$one" "${one%.csv}_更正.csv" && printf '\n' >> "${one%.csv}_更正.csv"
timed_run "rerun after one resubmission"
rm -f "${one%.csv}_更正.csv"
echo "== indicators and reports on the province lake (each stage alone, 3 runs)"
for i in 1 2 3; do
  for stage in indicators report; do
    out=$(/usr/bin/time -f "%e %M" $zx $stage --out "$lake" 2>"$work/time.txt" || true)
    read -r wall rss < <(tail -1 "$work/time.txt")
    echo "$stage: wall ${wall} s, peak RSS $((rss / 1024)) MiB   ${out}" | cut -c1-300
  done
done
du -sh "$lake/.zhenxing/versions" "$lake/.zhenxing/segments" | sed 's/^/   disk: /'
echo "(work folder: $work)"
