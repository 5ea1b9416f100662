#!/usr/bin/env bash
# The package version from git: X.Y.Z on a clean checkout of tag vX.Y.Z,
# else X.Y.Z+gitN.HASH (N commits, so later builds sort later; 0.0.0 before
# the first tag), with .dirty for local changes. "deb" prints Debian's form
# (with the revision -1), "rpm" the RPM version (the release is 1).
set -euo pipefail
form=${1:?usage: version.sh deb|rpm}
cd "$(dirname "$0")/.."
tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null || true)
base=${tag#v}
base=${base:-0.0.0}
if [ -n "$tag" ] && [ "$(git rev-list -n1 "$tag")" = "$(git rev-parse HEAD)" ]; then
  v=$base
else
  v="$base+git$(git rev-list --count HEAD).$(git rev-parse --short=7 HEAD)"
fi
git diff --quiet HEAD -- 2>/dev/null || v="$v.dirty"
case $form in
  deb) echo "$v-1" ;;
  rpm) echo "$v" ;;
  *) echo "version.sh: $form: want deb or rpm" >&2; exit 2 ;;
esac
