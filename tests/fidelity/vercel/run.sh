#!/usr/bin/env bash
# Fidelity check: the official @vercel/sdk (pinned in package.json and
# package-lock.json) against our Vercel emulator. If the official client cannot
# talk to the emulator, the emulator is wrong.
# Usage: tests/fidelity/vercel/run.sh [path-to-secret-sync-binary]
set -euo pipefail
cd "$(dirname "$0")/../../.."
bin="${1:-target/debug/secret-sync}"
dir="tests/fidelity/vercel"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
  $sudo apt-get update -qq && $sudo apt-get install -y -qq nodejs npm >/dev/null
fi
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' \
  || { echo "the @vercel/sdk check needs Node.js 18 or newer (the SDK's RUNTIMES.md) (found $(node --version))" >&2; exit 1; }
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

urlfile="target/fidelity-vercel-url"
rm -f "$urlfile"
fifo="$(mktemp -u)"
mkfifo "$fifo"
# The emulator serves until its standard input closes; the Vercel state is
# seeded by the check itself (POST /_vercel/seed). `--esc-token` is required
# by `emulate` and unused here.
"$bin" emulate --esc-token unused-by-this-check <"$fifo" >"$urlfile" &
pid=$!
exec 3>"$fifo"
rm -f "$fifo"
trap 'exec 3>&-; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$urlfile" ] && break; sleep 0.1; done
url="$(head -n1 "$urlfile")"
echo "emulator at $url"
VERCEL_EMU_URL="$url" node "$dir/check.mjs"
