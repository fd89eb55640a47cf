#!/usr/bin/env bash
# The tag layout of a release, made locally; the release workflow pushes it.
#
#   scripts/release.sh notes  X.Y.Z          # CHANGELOG.md's section for X.Y.Z
#   scripts/release.sh layout X.Y.Z IMAGE    # release commit + tags (no push)
#
# `layout` makes, on top of the current commit (the source commit), one
# release commit whose only change is action.yml's `image:` line, pointing at
# that version's prebuilt image (`docker://IMAGE:X.Y.Z`). It tags that commit
# `vX.Y.Z` (annotated; refused if the tag exists: release tags are never
# moved) and, unless X.Y.Z is a pre-release (`1.2.0-rc.1`), moves the major
# tag `vX` to the same commit. So every tag users can pin — `v1`, `v1.2.3`
# or the SHA of either — names a commit whose action pulls a prebuilt image,
# and a SHA pin stays reachable from an immutable tag. Source commits on
# `main` keep `image: Dockerfile` and are never a release target.
#
# It prints `commit=…`, `tag=…`, `major=…` (empty for a pre-release) and
# `image=…` lines, for `$GITHUB_OUTPUT`. The working tree is left on the
# source commit.
set -euo pipefail

die() { echo "release: $*" >&2; exit 1; }

semver='^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$'

check_version() {
  [[ "$1" =~ $semver ]] || die "version \`$1\` is not X.Y.Z or X.Y.Z-pre (no leading v)"
}

# The lines under `## [X.Y.Z]` up to the next `## ` heading.
# RELEASE_NOTES_SECTION names another section (CI's dry run uses
# `Unreleased`).
notes() {
  local version="${RELEASE_NOTES_SECTION:-$1}" file="CHANGELOG.md"
  [ -f "$file" ] || die "$file not found"
  local body
  body="$(awk -v v="$version" '
    /^## / { if (inside) exit; if (index($0, "## [" v "]") == 1) { inside = 1; next } }
    inside { print }
  ' "$file")"
  [ -n "$(printf '%s' "$body" | tr -d '[:space:]')" ] \
    || die "CHANGELOG.md has no section \`## [$version]\` with notes: add one before releasing"
  printf '%s\n' "$body"
}

layout() {
  local version="$1" image="$2"
  check_version "$version"
  [[ "$image" =~ ^[a-z0-9./_-]+$ ]] || die "image \`$image\` is not a lower-case registry path (ghcr.io/owner/repo)"
  local tag="v$version" major=""
  [[ "$version" == *-* ]] || major="v${version%%.*}"
  git diff --quiet HEAD -- || die "the working tree has changes; release from a clean checkout"
  if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then
    die "tag $tag exists already; release tags are immutable: choose a new version"
  fi
  grep -qx '  image: Dockerfile' action.yml || die "action.yml has no line '  image: Dockerfile' under runs:"
  notes "$version" >/dev/null

  local source ref commit
  source="$(git rev-parse HEAD)"
  ref="docker://$image:$version"
  # Build the release commit from a temporary index, so the working tree and
  # the current branch stay as they were.
  local idx blob tree
  idx="$(mktemp)"
  trap 'rm -f "$idx"' RETURN
  GIT_INDEX_FILE="$idx" git read-tree "$source"
  blob="$(sed "s|^  image: Dockerfile\$|  image: $ref|" action.yml | git hash-object -w --stdin)"
  GIT_INDEX_FILE="$idx" git update-index --cacheinfo "100644,$blob,action.yml"
  tree="$(GIT_INDEX_FILE="$idx" git write-tree)"
  commit="$(git commit-tree "$tree" -p "$source" \
    -m "Release $tag: action.yml uses the prebuilt image" \
    -m "runs.image: $ref (built from $source)")"
  git tag -a "$tag" "$commit" -m "$tag (image $ref, source $source)"
  if [ -n "$major" ]; then
    git tag -f -a "$major" "$commit" -m "$tag (image $ref)" >/dev/null
  fi
  echo "commit=$commit"
  echo "tag=$tag"
  echo "major=$major"
  echo "image=$ref"
}

case "${1:-}" in
  notes) [ $# -eq 2 ] || die "usage: release.sh notes X.Y.Z"; check_version "$2"; notes "$2" ;;
  layout) [ $# -eq 3 ] || die "usage: release.sh layout X.Y.Z IMAGE"; layout "$2" "$3" ;;
  *) die "usage: release.sh notes X.Y.Z | layout X.Y.Z IMAGE" ;;
esac
