#!/usr/bin/env bash
# Size, cold start and peak memory of secret-sync. Not part of .ci/run: timings
# depend on the machine and prove nothing by themselves. docs/benchmarks.md
# holds one run's figures.
#
#   scripts/bench.sh            # prints the figures as Markdown-friendly lines
#   RUNS=50 scripts/bench.sh    # more runs per timing (default 20)
#
# Builds (in target/bench/, so ordinary builds are not disturbed):
#   shipped: cargo build --release --no-default-features   (what the image holds)
#   musl:    the same for x86_64-unknown-linux-musl, the image's exact binary,
#            when that target and musl-gcc are installed (else skipped)
#   demo:    cargo build --release                          (emulators on, for `demo`)
# Times `--version` and `check-manifest -m examples/sophia/secret-sync.yml`
# (hyperfine when available, else a date +%s%N loop: median of RUNS runs), and
# the peak memory (max RSS, /usr/bin/time -v) of `secret-sync demo`: a full
# sync of the Sophia example (60 secrets, 8 Fly apps, 3 ESC environments)
# against the in-process emulators. Then the linear-time checks: `check-manifest`
# on a generated manifest of 40,000 ESC routes and `validate` on a generated
# .env of 100,000 lines (each was quadratic once: 42 s and 24 s).
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${RUNS:-20}"
manifest="examples/sophia/secret-sync.yml"
out="target/bench"
mkdir -p "$out"

# Tools: hyperfine and GNU time from Debian's packages when missing and root.
maybe_apt() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1; } ||
      true
  fi
}
command -v hyperfine >/dev/null 2>&1 || maybe_apt hyperfine
[ -x /usr/bin/time ] || maybe_apt time

echo "--- building (release profile: LTO, 1 codegen unit, stripped)" >&2
cargo build --quiet --release --locked --no-default-features --target-dir "$out/shipped"
shipped="$out/shipped/release/secret-sync"
musl=""
if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl &&
  command -v musl-gcc >/dev/null 2>&1; then
  CC_x86_64_unknown_linux_musl=musl-gcc \
    cargo build --quiet --release --locked --no-default-features \
    --target x86_64-unknown-linux-musl --target-dir "$out/musl"
  musl="$out/musl/x86_64-unknown-linux-musl/release/secret-sync"
fi
cargo build --quiet --release --locked --target-dir "$out/demo"
demo="$out/demo/release/secret-sync"

# The figures go to stdout; progress to stderr.
size_line() { # label path
  local bytes
  bytes="$(stat -c %s "$2")"
  awk -v l="$1" -v b="$bytes" 'BEGIN { printf "%s: %d bytes (%.2f MB, %.2f MiB)\n", l, b, b / 1e6, b / 1048576 }'
}

# median_ms NAME CMD...: prints "NAME: median X ms (min Y, max Z, N runs)".
median_ms() {
  local name="$1"
  shift
  if command -v hyperfine >/dev/null 2>&1; then
    local json="$out/hyperfine.json"
    hyperfine --style none --shell=none --warmup 3 --runs "$runs" --export-json "$json" \
      -- "$(printf '%q ' "$@")" >/dev/null
    python3 - "$name" "$json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[2]))["results"][0]
t = sorted(x * 1000 for x in r["times"])
print(f"{sys.argv[1]}: median {r['median'] * 1000:.2f} ms (min {t[0]:.2f}, max {t[-1]:.2f}, {len(t)} runs, hyperfine)")
EOF
  else
    local i t0 t1 times=()
    for i in 1 2 3; do "$@" >/dev/null 2>&1 || true; done
    for ((i = 0; i < runs; i++)); do
      t0="$(date +%s%N)"
      "$@" >/dev/null 2>&1
      t1="$(date +%s%N)"
      times+=($(((t1 - t0) / 1000)))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk -v n="$name" '
      { a[NR] = $1 }
      END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
            printf "%s: median %.2f ms (min %.2f, max %.2f, %d runs, date loop)\n", n, m / 1000, a[1] / 1000, a[NR] / 1000, NR }'
  fi
}

# Inputs for the linear-time checks (issue 13): a manifest with 40,000 ESC
# routes, all to one target (nested-path checks are per target, so this is
# the worst case), and a .env file of 100,000 lines for `validate`.
big_manifest="$out/routes-40000.yml"
big_env="$out/lines-100000.env"
awk 'BEGIN {
  print "version: 1"
  print "targets:"
  print "  esc:"
  print "    big: { path: acme/big/production }"
  print "secrets:"
  for (i = 0; i < 40000; i++)
    printf "  SECRET_%05d: { required: false, to: [ { esc: big, path: group%03d.key%05d } ] }\n", i, i % 500, i
}' >"$big_manifest"
awk 'BEGIN {
  # The minimal example'"'"'s three secrets, valid, then 99,997 undeclared ones.
  print "OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz012345"
  print "DATABASE_URL=postgres://app:pw@db.example.com:5432/app"
  print "SESSION_SECRET=0123456789abcdef0123456789abcdef0123"
  for (i = 3; i < 100000; i++) printf "UNDECLARED_%06d=value-%06d-abcdefghijklmnopqrstuvwxyz\n", i, i
}' >"$big_env"

# Every timed command must succeed, or the timing means nothing.
for bin in "$shipped" ${musl:+"$musl"}; do
  "$bin" --version >/dev/null
  "$bin" check-manifest -m "$manifest" >/dev/null
done
"$shipped" check-manifest -m "$big_manifest" >/dev/null
"$shipped" validate -m examples/minimal/secret-sync.yml -s "$big_env" >/dev/null

echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr)"
echo "toolchain: $(rustc --version)"
size_line "size, shipped binary (x86_64-unknown-linux-gnu, --no-default-features)" "$shipped"
if [ -n "$musl" ]; then
  size_line "size, image binary (x86_64-unknown-linux-musl, static, --no-default-features)" "$musl"
else
  echo "size, image binary (musl): skipped (needs the x86_64-unknown-linux-musl target and musl-gcc)"
fi
size_line "size, demo binary (default features: emulators)" "$demo"

echo "--- timing (warm page cache: the binary is read from memory, as on a runner after the image pull)" >&2
median_ms "cold start, --version (gnu)" "$shipped" --version
median_ms "cold start, check-manifest Sophia (gnu)" "$shipped" check-manifest -m "$manifest"
if [ -n "$musl" ]; then
  median_ms "cold start, --version (musl)" "$musl" --version
  median_ms "cold start, check-manifest Sophia (musl)" "$musl" check-manifest -m "$manifest"
fi

echo "--- linear time on large inputs (issue 13: must stay under 1 s each)" >&2
median_ms "check-manifest, 40,000 ESC routes to one target ($(stat -c %s "$big_manifest") bytes) (gnu)" \
  "$shipped" check-manifest -m "$big_manifest"
median_ms "validate, .env of 100,000 lines ($(stat -c %s "$big_env") bytes, 99,997 undeclared) (gnu)" \
  "$shipped" validate -m examples/minimal/secret-sync.yml -s "$big_env"

echo "--- peak memory of the demo sync" >&2
if [ -x /usr/bin/time ]; then
  log="$out/time-demo.txt"
  /usr/bin/time -v "$demo" demo >/dev/null 2>"$log"
  awk -F': ' '
    /Maximum resident set size/ { rss = $2 }
    /Elapsed \(wall clock\)/ { wall = $2 }
    END { printf "peak memory, demo sync of the Sophia example (emulators in-process): max RSS %d KiB (%.1f MiB), wall %s\n", rss, rss / 1024, wall }' "$log"
else
  echo "peak memory: skipped (no /usr/bin/time; apt-get install time)"
fi
