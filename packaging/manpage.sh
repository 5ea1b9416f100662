#!/usr/bin/env bash
# Man pages made from each program's own --help, so they never drift, and
# the doc directory's changelog and copyright: bin/ -> out/.
set -euo pipefail
bin=${1:?usage: manpage.sh BIN OUT VERSION}
out=${2:?}
version=${3:?}
cd "$(dirname "$0")/.."
when=$(git log -1 --format=%ct 2>/dev/null || date +%s)
day=$(date -u -d "@$when" +%Y-%m-%d)

# page NAME SECTION SUMMARY: roff from the help text on stdin, gzipped
# without a timestamp (reproducible, as lintian wants).
page() {
  local name=$1 section=$2 summary=$3
  {
    printf '.TH %s %s %s "ipcwatch %s" "ipcwatch"\n' "$(echo "$name" | tr a-z A-Z)" "$section" "$day" "$version"
    printf '.SH NAME\n%s \\- %s\n' "${name//-/\\-}" "$summary"
    printf '.SH DESCRIPTION\nThe text %s \\-\\-help prints:\n.PP\n.nf\n' "${name//-/\\-}"
    # Backslashes doubled, a leading dot or quote made literal.
    sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"
    printf '.fi\n.SH SEE ALSO\n/usr/share/doc/ipcwatch/README.md\n'
  } | gzip -9n > "$out/$name.$section.gz"
}

"$bin/check_sysvipc" --help | page check_sysvipc 8 "Nagios check of System V IPC usage and leaked Apache semaphore arrays" || true
"$bin/ipcwatch-remediate" --help | page ipcwatch-remediate 8 "remove the System V semaphore arrays a dead Apache leaked, never a live one" || true
"$bin/ipcwatch-telegraf" -h 2>&1 | sed "s|^Usage of .*:|Usage of ipcwatch-telegraf:|" | page ipcwatch-telegraf 1 "Telegraf execd input for System V IPC usage and leaked Apache arrays"
for m in check_sysvipc.8 ipcwatch-remediate.8 ipcwatch-telegraf.1; do
  [ "$(zcat "$out/$m.gz" | wc -l)" -gt 10 ] || { echo "manpage.sh: $m: no help text" >&2; exit 1; }
done

# changelog.Debian.gz: one entry for this build.
{
  printf 'ipcwatch (%s) unstable; urgency=medium\n\n' "$(packaging/version.sh deb)"
  printf '  * Built from commit %s.\n\n' "$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
  printf ' -- ipcwatch maintainers <maintainers@ipcwatch.example>  %s\n' "$(date -u -R -d "@$when")"
} | gzip -9n > "$out/changelog.Debian.gz"
cp packaging/copyright "$out/copyright"
