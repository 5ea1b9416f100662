#!/usr/bin/env bash
# The package version from git: X.Y.Z on a clean checkout of tag vX.Y.Z
# (vX.Y.Z-rc1 gives X.Y.Z~rc1, which sorts before X.Y.Z), else
# X.Y.Z+gitTIME.HASH, TIME the commit's UTC time (so later commits sort
# later, in a shallow clone too; 0.0.0 before the first tag), and ~dirty
# for local changes, tracked or not (a dirty build sorts before the clean
# one of its commit). Outside a git checkout IPCWATCH_VERSION must name it.
# "deb" prints Debian's form (with the revision -1), "rpm" the RPM version
# (the release is 1).
set -euo pipefail
form=${1:?usage: version.sh deb|rpm}
cd "$(dirname "$0")/.."
if [ -n "${IPCWATCH_VERSION:-}" ]; then
  v=$IPCWATCH_VERSION
elif ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "version.sh: not a git checkout: set IPCWATCH_VERSION" >&2
  exit 1
else
  tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null || true)
  base=${tag#v}
  base=${base:-0.0.0}
  base=${base//-/\~}
  if [ -n "$tag" ] && [ "$(git rev-list -n1 "$tag")" = "$(git rev-parse HEAD)" ]; then
    v=$base
  else
    v="$base+git$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S).$(git rev-parse --short=7 HEAD)"
  fi
  [ -z "$(git status --porcelain 2>/dev/null)" ] || v="$v~dirty"
fi
case $v in
  [0-9]*) ;;
  *) echo "version.sh: $v does not start with a digit" >&2; exit 1 ;;
esac
case $form in
  deb) echo "$v-1" ;;
  rpm) echo "$v" ;;
  *) echo "version.sh: $form: want deb or rpm" >&2; exit 2 ;;
esac
