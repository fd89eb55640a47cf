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
# against the in-process emulators, and one lossless edit of a 5,000-line ESC
# definition (examples/esc_edit_bench.rs, built with the demo's profile).
# Then the leak scan: `secret-sync scan` over
# a generated 200 MB tree (2,000 files of 100 KiB of base64 text in 40
# directories) for 1,000 values of 40 characters, timed (date loop, median of
# SCAN_RUNS, default 5) with its peak memory, and checked: a run with 5
# planted values must report exactly those 5. Then the linear-time checks:
# `check-manifest` on a generated manifest of 40,000 ESC routes and `validate`
# on a generated .env of 100,000 lines (each was quadratic once: 42 s and 24 s).
#
# Then the scale runs of issues 14, 15, 25 and 26 (see scale_bench below): 60×8×1,
# 1,000×100×5 (also at fly-concurrency 16, with the state record, and with 20
# Vercel projects) and 1,000×200×5 (one job, then 8 shards + merge-reports) at
# 50 ms per request, and how the ESC first sync's CPU grows with its entries
# (esc_growth), a few minutes in all.
#
#   ONLY=scan scripts/bench.sh   # the scan benchmark alone
#   ONLY=scale scripts/bench.sh  # the scale benchmark alone (LATENCY_MS=50)
#   ONLY=fly-roll scripts/bench.sh  # the Fly roll's waits on the real clock (about 4 min)
#   ONLY=github-pace scripts/bench.sh  # 1,000 GitHub writes at 1/s (PACE_MS)
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

scan_bench() { # BIN
  local bin="$1" dir="$out/scan" runs="${SCAN_RUNS:-5}"
  if [ ! -f "$dir/tree/.complete" ]; then
    echo "--- generating the scan tree (200 MB, 1,000 values)" >&2
    rm -rf "$dir" && mkdir -p "$dir"
    python3 - "$dir" <<'EOF'
import base64, os, random, sys
d = sys.argv[1]
rnd = random.Random(17)
alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
with open(f"{d}/manifest.yml", "w") as m, open(f"{d}/values.env", "w") as v:
    m.write("version: 1\nsecrets:\n")
    for i in range(1000):
        m.write(f"  SECRET_{i:04}: {{}}\n")
        v.write(f"SECRET_{i:04}=" + "".join(rnd.choice(alphabet) for _ in range(40)) + "\n")
for f in range(2000):
    sub = f"{d}/tree/dir{f % 40:02}"
    os.makedirs(sub, exist_ok=True)
    text = base64.b64encode(rnd.randbytes(77 * 1024)).decode()
    lines = "\n".join(text[i:i + 100] for i in range(0, len(text), 100))
    with open(f"{sub}/file{f:04}.txt", "w") as out:
        out.write(lines[: 100 * 1024])
open(f"{d}/tree/.complete", "w").close()
EOF
  fi
  local args=(scan -m "$dir/manifest.yml" -s "$dir/values.env" --path "$dir/tree")
  rm -f "$dir/tree/planted.txt"
  "$bin" "${args[@]}" >/dev/null
  local i t0 t1 times=()
  for ((i = 0; i < runs; i++)); do
    t0="$(date +%s%N)"
    "$bin" "${args[@]}" >/dev/null
    t1="$(date +%s%N)"
    times+=($(((t1 - t0) / 1000000)))
  done
  local bytes
  bytes="$(du -sb --exclude=.complete "$dir/tree" | cut -f1)"
  printf '%s\n' "${times[@]}" | sort -n | awk -v b="$bytes" '
    { a[NR] = $1 }
    END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
          printf "scan, 1,000 values over %.0f MB (2,000 files): median %d ms (min %d, max %d, %d runs, warm page cache), %.0f MB/s\n", b / 1e6, m, a[1], a[NR], NR, b / 1e6 / (m / 1000) }'
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v "$bin" "${args[@]}" >/dev/null 2>"$out/time-scan.txt"
    awk -F': ' '/Maximum resident set size/ { printf "scan, peak memory: max RSS %d KiB (%.1f MiB)\n", $2, $2 / 1024 }' "$out/time-scan.txt"
  fi
  # Correctness: 5 planted values (as is, base64, URL-encoded, JSON, inside
  # a base64 stream) must be reported, and nothing else.
  python3 - "$dir" <<'EOF'
import base64, sys
d = sys.argv[1]
vals = [l.split("=", 1)[1].strip() for l in open(f"{d}/values.env")]
with open(f"{d}/tree/planted.txt", "w") as f:
    f.write(vals[1] + "\n")
    f.write(base64.b64encode(vals[2].encode()).decode() + "\n")
    f.write("?k=" + vals[3] + "%2F\n")
    f.write('{"k": "' + vals[4] + '"}\n')
    f.write(base64.b64encode(b"xy" + vals[5].encode() + b"tail").decode() + "\n")
EOF
  "$bin" "${args[@]}" --report-path "$out/scan-report.json" >/dev/null 2>&1 || true
  local found
  found="$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["scan"]["leaks"]))' "$out/scan-report.json")"
  rm -f "$dir/tree/planted.txt"
  echo "scan, planted values found: $found of 5"
  [ "$found" = 5 ]
}

# How the ESC first sync's CPU grows with its entries (issue 25: it once
# grew with their square): program CPU (GNU time, 10 ms steps) of the first
# sync of 250 and 1,000 secrets into one ESC environment and of 1,000 into
# five (one Fly app, no latency), three times each; then, when valgrind is
# installed, the instructions (callgrind) of the editor alone for 250 and
# 1,000 new secrets (examples/esc_edit_bench.rs `first`: plan, the checked
# edit of the decrypted text, the checked edit of the stored one).
esc_growth() { # BIN
  local bin="$1" scale="$out/demo/release/examples/scale" dir="$out/scale"
  echo "--- ESC first sync: CPU by entries (issue 25)" >&2
  for _ in 1 2 3; do
    for size in "secrets=250 esc=1" "secrets=1000 esc=1" "secrets=1000 esc=5"; do
      # shellcheck disable=SC2086 # two arguments on purpose
      "$scale" "$bin" "$dir" $size apps=1 latency-ms=0 | grep ', first: wall'
    done
  done
  if command -v valgrind >/dev/null 2>&1; then
    cargo build --quiet --release --locked --target-dir "$out/demo" --example esc_edit_bench
    for n in 250 1000; do
      valgrind --tool=callgrind --callgrind-out-file=/dev/null "$out/demo/release/examples/esc_edit_bench" first "$n" 1 2>&1 |
        awk -v n="$n" '/ESC first sync/ { print } /Collected/ { print "callgrind, editor, first sync of " n " secrets: " $4 " instructions" }'
    done
  fi
}

# Scale (issues 14, 15 and 26): the release binary syncs generated manifests
# against the emulators with LATENCY_MS (default 50) on every request;
# crates/emulators/examples/scale.rs prints wall time, peak memory and the
# requests by kind against the limit for a first, an unchanged and a one-key
# run, and fails if any target's requests are off the limit.
scale_bench() { # BIN
  local bin="$1" ms="${LATENCY_MS:-50}" dir="$out/scale"
  cargo build --quiet --release --locked -p secret-sync-emulators --example scale --target-dir "$out/demo"
  local scale="$out/demo/release/examples/scale"
  echo "--- scale: 60 secrets × 8 Fly apps × 1 ESC environment" >&2
  "$scale" "$bin" "$dir" secrets=60 apps=8 esc=1 latency-ms="$ms"
  echo "--- scale: one app of 9 Machines at zero latency (issue 14: no pacing sleep)" >&2
  "$scale" "$bin" "$dir" secrets=30 apps=1 esc=1 machines=9 latency-ms=0
  echo "--- scale: 1,000 × 100 × 5 (issue 14)" >&2
  "$scale" "$bin" "$dir" secrets=1000 apps=100 esc=5 latency-ms="$ms"
  echo "--- scale: 1,000 × 100 × 5 at fly-concurrency 16 (issue 25: CPU, memory and wall of the first sync)" >&2
  "$scale" "$bin" "$dir" secrets=1000 apps=100 esc=5 latency-ms="$ms" fly-concurrency=16
  esc_growth "$bin"
  echo "--- scale: 1,000 × 100 × 5 with the state record (issue 14: an unchanged run is reads only)" >&2
  "$scale" "$bin" "$dir" secrets=1000 apps=100 esc=5 latency-ms="$ms" state=1
  echo "--- scale: 1,000 × 100 × 5 + 20 Vercel projects with the state record (issue 26: a redeploy only where a key changed)" >&2
  "$scale" "$bin" "$dir" secrets=1000 apps=100 esc=5 vercel=20 latency-ms="$ms" state=1
  echo "--- scale: 1,000 × 200 × 5, one job, then 8 shards + merge-reports (issue 15)" >&2
  "$scale" "$bin" "$dir" secrets=1000 apps=200 esc=5 latency-ms="$ms"
  "$scale" "$bin" "$dir" secrets=1000 apps=200 esc=5 latency-ms="$ms" shards=8
}

# The Fly roll (issue 22): one app of 9 Machines with a health check, on the
# real clock; crates/emulators/examples/fly_roll.rs prints the wall time
# beside flyctl's waits (smoke window, health reads).
fly_roll_bench() { # BIN
  local bin="$1"
  cargo build --quiet --release --locked -p secret-sync-emulators --example fly_roll --target-dir "$out/demo"
  echo "--- Fly roll: 9 Machines, first health result at once, then 15 s after each start" >&2
  "$out/demo/release/examples/fly_roll" "$bin" "$out/fly-roll" machines=9 checks-after=0
  "$out/demo/release/examples/fly_roll" "$bin" "$out/fly-roll" machines=9 checks-after=15
}

if [ "${ONLY:-}" = fly-roll ]; then
  cargo build --quiet --release --locked --no-default-features -p secret-sync --target-dir "$out/shipped"
  fly_roll_bench "$out/shipped/release/secret-sync"
  exit 0
fi

if [ "${ONLY:-}" = scale ]; then
  cargo build --quiet --release --locked --no-default-features -p secret-sync --target-dir "$out/shipped"
  scale_bench "$out/shipped/release/secret-sync"
  exit 0
fi

# Issue 23: 1,000 GitHub writes over 50 repositories at GitHub's pace (one
# write a second: about 17 minutes), against a GitHub emulator that refuses
# writes beyond 80 a minute; prints wall time against the pace model and the
# refused writes (must be 0). PACE_MS scales the pace and the emulator's
# window together (PACE_MS=100: under 2 minutes).
if [ "${ONLY:-}" = github-pace ]; then
  cargo build --quiet --release --locked --no-default-features -p secret-sync --target-dir "$out/shipped"
  cargo build --quiet --release --locked -p secret-sync-emulators --example github_pace --target-dir "$out/demo"
  "$out/demo/release/examples/github_pace" "$out/shipped/release/secret-sync" "$out/github-pace" \
    repos=50 keys=20 pace-ms="${PACE_MS:-1000}"
  exit 0
fi

if [ "${ONLY:-}" = scan ]; then
  cargo build --quiet --release --locked --no-default-features -p secret-sync --target-dir "$out/shipped"
  scan_bench "$out/shipped/release/secret-sync"
  exit 0
fi

echo "--- building (release profile: LTO, 1 codegen unit, stripped)" >&2
cargo build --quiet --release --locked --no-default-features -p secret-sync --target-dir "$out/shipped"
shipped="$out/shipped/release/secret-sync"
musl=""
if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl &&
  command -v musl-gcc >/dev/null 2>&1; then
  CC_x86_64_unknown_linux_musl=musl-gcc \
    cargo build --quiet --release --locked --no-default-features -p secret-sync \
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

echo "--- one edit of a 5,000-line ESC definition" >&2
cargo run --quiet --release --locked --target-dir "$out/demo" --example esc_edit_bench -- "$runs"
echo "--- leak scan" >&2
scan_bench "$shipped"
scale_bench "$shipped"
