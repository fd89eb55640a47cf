#!/usr/bin/env bash
# Fidelity check: the official Pulumi ESC Python SDK against our ESC emulator.
# If the official client cannot talk to the emulator, the emulator is wrong.
# Usage: tests/fidelity/run.sh [path-to-secret-sync-binary]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${1:-target/debug/secret-sync}"
venv="target/fidelity-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/fidelity/requirements.txt

token="pul-fidelity-check-token"
fifo="$(mktemp -u)"
mkfifo "$fifo"
# The emulator serves until its standard input closes.
"$bin" emulate --esc-token "$token" --esc-env acme/fidelity/dev <"$fifo" >target/fidelity-url &
pid=$!
exec 3>"$fifo"
rm -f "$fifo"
trap 'exec 3>&-; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s target/fidelity-url ] && break; sleep 0.1; done
url="$(head -n1 target/fidelity-url)"
echo "emulator at $url"
ESC_URL="$url" ESC_TOKEN="$token" ESC_ORG=acme ESC_PROJECT=fidelity ESC_ENV=dev ESC_CHECK=1 \
  "$venv/bin/python" tests/fidelity/esc_sdk_check.py
ESC_URL="$url" ESC_TOKEN="$token" ESC_ORG=acme ESC_PROJECT=fidelity ESC_ENV=created ESC_CREATE=1 \
  "$venv/bin/python" tests/fidelity/esc_sdk_check.py
