#!/usr/bin/env bash
# The packages as an admin gets them: make package, lintian at its default
# level, the .deb's files against make install's, the RPM's metadata, then
# the .deb's whole life in a fresh Debian 12 root (install, the deployed
# Nagios 4 loop from the package's paths, an upgrade that keeps an edited
# conffile, remove, purge: nothing of ours left), and the RPM installed and
# erased in another, its scripts run.
set -euo pipefail
cd "$(dirname "$0")/.."
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { # description command...
  local what=$1; shift
  if "$@"; then ok; else bad "$what"; fi
}
start=$(date +%s)

make --no-print-directory package >/dev/null
deb=$(ls dist/ipcwatch_*_amd64.deb)
rpm=$(ls dist/ipcwatch-*.x86_64.rpm)
echo "package: $deb $rpm"

# lintian: nothing at the default level but the overrides, each on its own
# line with its reason (packaging/lintian-overrides).
out=$(lintian --fail-on error,warning "$deb" 2>/dev/null) && [ -z "$out" ] && ok || bad "lintian: $out"
overridden=$(lintian --show-overrides "$deb" 2>/dev/null | grep '^O:' | sort -u || true)
for tag in statically-linked-binary initial-upload-closes-no-bugs; do
  echo "$overridden" | grep -q " $tag" && ok || bad "lintian override $tag is not in use"
done

# The .deb installs exactly what make install installs (the lintian
# override file is the package's own).
tree=$(mktemp -d /tmp/ipcwatch-tree.XXXXXX)
make --no-print-directory install PREFIX=/usr DESTDIR="$tree" SETCAP=: APACHE_UNITS="apache2.service apache2@.service httpd.service httpd@.service" >/dev/null
diff <(cd "$tree" && find . -type f | sed 's|^\.||' | sort) \
     <(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\.||' | grep -v '^/usr/share/lintian/' | sort) \
  && ok || bad "the .deb and make install install different files"
rm -rf "$tree"
[ "$(dpkg-deb -f "$deb" Version)" = "$(packaging/version.sh deb)" ] && ok || bad "deb version $(dpkg-deb -f "$deb" Version)"
conffiles=$(dpkg-deb -I "$deb" conffiles | sort | tr '\n' ' ')
[ "$conffiles" = "/etc/ipcwatch/remediate.conf /etc/ipcwatch/telegraf-sysvipc.conf /etc/logrotate.d/ipcwatch /etc/nagios-plugins/config/sysvipc.cfg /etc/sudoers.d/ipcwatch /etc/telegraf/telegraf.d/ipcwatch.conf " ] \
  && ok || bad "deb conffiles: $conffiles"
dpkg-deb -f "$deb" Depends | grep -q . && bad "the .deb depends on something: $(dpkg-deb -f "$deb" Depends)" || ok

# The RPM: modes, config(noreplace), scripts, version.
want_rpm='-r--r----- cn /etc/sudoers.d/ipcwatch
-rw-r--r-- cn /etc/logrotate.d/ipcwatch
-rw-r--r-- cn /etc/ipcwatch/remediate.conf
-rw-r--r-- cn /etc/ipcwatch/telegraf-sysvipc.conf
-rw-r--r-- cn /etc/telegraf/telegraf.d/ipcwatch.conf
-rwxr-xr-x  /usr/bin/ipcwatch-telegraf
-rwxr-xr-x  /usr/lib/ipcwatch/ipcwatch-plugin-apache
-rwxr-xr-x  /usr/lib64/nagios/plugins/check_sysvipc
-rwxr-xr-x  /usr/sbin/ipcwatch-remediate'
got_rpm=$(rpm -qp --qf '[%{FILEMODES:perms} %{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm" 2>/dev/null | grep -E '^-r--|^-rwx| cn ' | sort)
[ "$got_rpm" = "$(echo "$want_rpm" | sort)" ] && ok || bad "rpm files: $got_rpm"
scripts=$(rpm -qp --scripts "$rpm" 2>/dev/null)
echo "$scripts" | grep -q 'setcap cap_ipc_owner=ep' && echo "$scripts" | grep -q '/usr/lib64/nagios/plugins/check_sysvipc' && ok || bad "rpm %post sets no capability"
[ "$(rpm -qp --qf '%{VERSION}-%{RELEASE}' "$rpm" 2>/dev/null)" = "$(packaging/version.sh rpm)-1" ] && ok || bad "rpm version"

# The Telegraf make telegraf built, to run beside a removed ipcwatch.
telegraf=${IPCWATCH_TELEGRAF:-$(ls .cache/telegraf-*/telegraf 2>/dev/null | head -1)}
if [ ! -x "$telegraf" ]; then
  if [ "${CI:-}" = true ]; then bad "no Telegraf binary (make telegraf)"; else echo "skipping the Telegraf step: no Telegraf binary (make telegraf)"; fi
fi

# rpmlint, where it is installed: its findings are listed, each with its
# reason, in docs/packaging.md; none fails the test.
if command -v rpmlint >/dev/null 2>&1; then
  echo "rpmlint: $(rpmlint "$rpm" 2>/dev/null | tail -1)"
fi

# A fresh Debian 12 root with what the lifecycle needs (apache2, nagios4,
# sudo, libcap2-bin), made once by mmdebstrap from the package registry and
# kept in .cache.
base=.cache/debian-bookworm-root.tar
if [ ! -s "$base" ]; then
  mkdir -p .cache
  mmdebstrap --variant=apt --aptopt='APT::Install-Recommends "false"' --include=sudo,libcap2-bin,apache2,nagios4-core bookworm "$base.tmp.tar" >/dev/null 2>&1
  mv "$base.tmp.tar" "$base"
fi
newroot() {
  local r
  r=$(mktemp -d /tmp/ipcwatch-debroot.XXXXXX)
  tar -C "$r" -xf "$base"
  echo "$r"
}
# inroot ROOT CMD...: runs CMD chrooted in ROOT, with /dev, /proc and a
# fresh /tmp and /run, in a private mount namespace.
inroot() {
  local r=$1; shift
  unshare --mount --propagation private /bin/sh -c '
    r=$1; shift
    mount --bind "$r" "$r" && mount --rbind /dev "$r/dev" && mount -t proc proc "$r/proc" && mount -t sysfs sys "$r/sys" &&
    mount -t tmpfs tmp "$r/tmp" && mount -t tmpfs run "$r/run" && exec chroot "$r" "$@"' sh "$r" "$@"
}
# ours ROOT: every path of the root, but dpkg's and apt's own bookkeeping
# and the mail Nagios sent about the loop's service (its exim4 spool).
ours() {
  (cd "$1" && find . -xdev \( -path ./var/spool/exim4 -o -path ./var/log/exim4 -o -path ./var/lib/dpkg -o -path ./var/cache -o -path ./var/lib/apt -o -path ./var/log/apt -o -path ./var/log/dpkg.log -o -path ./var/log/alternatives.log -o -path ./tmp -o -path ./run -o -path ./proc -o -path ./sys -o -path ./dev \) -prune -o -print | sort)
}

lifecycle_start=$(date +%s)
root=$(newroot)
trap 'rm -rf "$root" "${rroot:-}"' EXIT
before=$(ours "$root")
cp "$deb" "$root/ipcwatch.deb"
inroot "$root" apt-get install -y -qq --no-install-recommends /ipcwatch.deb >/dev/null 2>&1 && ok || bad "apt-get install ./ipcwatch.deb"
rm -f "$root/ipcwatch.deb"
# Every file, its owner, mode and capability.
while read -r path mode; do
  [ "$(stat -c '%U:%G %a' "$root$path" 2>/dev/null)" = "root:root $mode" ] && ok || bad "$path: $(stat -c '%U:%G %a' "$root$path" 2>&1), want root:root $mode"
done <<'EOF'
/usr/lib/nagios/plugins/check_sysvipc 755
/usr/sbin/ipcwatch-remediate 755
/usr/bin/ipcwatch-telegraf 755
/usr/lib/ipcwatch/ipcwatch-plugin-apache 755
/usr/lib/ipcwatch/SHA256SUMS 644
/etc/ipcwatch/remediate.conf 644
/etc/ipcwatch/telegraf-sysvipc.conf 644
/etc/telegraf/telegraf.d/ipcwatch.conf 644
/etc/nagios-plugins/config/sysvipc.cfg 644
/etc/sudoers.d/ipcwatch 440
/usr/share/icinga2/include/plugins-contrib.d/sysvipc.conf 644
/usr/lib/systemd/system/apache2.service.d/ipcwatch-witness.conf 644
/usr/share/man/man8/ipcwatch-remediate.8.gz 644
/usr/share/doc/ipcwatch/copyright 644
/var/log/ipcwatch 750
EOF
for f in /usr/lib/nagios/plugins/check_sysvipc /usr/bin/ipcwatch-telegraf; do
  [ "$(inroot "$root" getcap "$f" | awk '{print $2}')" = "cap_ipc_owner=ep" ] && ok || bad "$f has no cap_ipc_owner after postinst"
done
inroot "$root" visudo -c -q -f /etc/sudoers.d/ipcwatch && ok || bad "the installed sudoers rule does not parse"

# The deployed Nagios 4 loop, run from what the package installed: the
# suite's test binary, static, run inside the root on its installed system.
CGO_ENABLED=0 go test -c -o "$root/deployed.test" ./plugins/e2e/deployed
if inroot "$root" env IPCWATCH_INSTALLED_ROOT=/ IPCWATCH_TEST_BIN=/usr/lib/ipcwatch CI=true \
    /deployed.test -test.run '^TestNagiosDeployed$' -test.count=1 -test.v > /tmp/ipcwatch-package-loop.log 2>&1 &&
   grep -q -- '--- PASS: TestNagiosDeployed' /tmp/ipcwatch-package-loop.log; then ok; else bad "the deployed Nagios loop from the package (log: /tmp/ipcwatch-package-loop.log)"; tail -30 /tmp/ipcwatch-package-loop.log; fi
rm -f "$root/deployed.test"

# An upgrade to a second build whose shipped remediate.conf changed, with
# the admin's edit of it: the edit is kept (the new one beside it), the
# programs are the new build's.
echo '# edited by the admin' >> "$root/etc/ipcwatch/remediate.conf"
edited=$(sha256sum < "$root/etc/ipcwatch/remediate.conf")
stage_conf=dist/stage/etc/ipcwatch/remediate.conf
cp "$stage_conf" "$stage_conf.orig"
echo '# changed in the second build' >> "$stage_conf"
v2="$(packaging/version.sh rpm)+upgrade"
mkdir -p dist/upgrade
IPCWATCH_VERSION=$v2 .cache/gobin/nfpm-v2.48.0 package -f packaging/nfpm.yaml -p deb -t "dist/upgrade/ipcwatch_${v2}-1_amd64.deb" >/dev/null
mv "$stage_conf.orig" "$stage_conf"
cp "dist/upgrade/ipcwatch_${v2}-1_amd64.deb" "$root/ipcwatch2.deb"
inroot "$root" apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold /ipcwatch2.deb >/dev/null 2>&1 \
  && ok || bad "the upgrade"
rm -f "$root/ipcwatch2.deb"
[ "$(inroot "$root" dpkg-query -W -f '${Version}' ipcwatch)" = "${v2}-1" ] && ok || bad "the upgrade did not install ${v2}-1"
[ "$(sha256sum < "$root/etc/ipcwatch/remediate.conf")" = "$edited" ] && ok || bad "the admin's remediate.conf was not kept"
grep -q 'changed in the second build' "$root/etc/ipcwatch/remediate.conf.dpkg-dist" && ok || bad "the new remediate.conf is not beside it (.dpkg-dist)"
[ "$(inroot "$root" getcap /usr/lib/nagios/plugins/check_sysvipc | awk '{print $2}')" = "cap_ipc_owner=ep" ] && ok || bad "the upgraded check has no cap_ipc_owner"

# Remove: the programs go, the conffiles stay, and the host's Telegraf
# still starts with the kept execd block (it idles).
inroot "$root" apt-get remove -y -qq ipcwatch >/dev/null 2>&1 && ok || bad "apt-get remove"
[ ! -e "$root/usr/sbin/ipcwatch-remediate" ] && [ -e "$root/etc/ipcwatch/remediate.conf" ] && ok || bad "remove: the handler stays or the conffiles went"
if [ -x "$telegraf" ]; then
  cp "$telegraf" "$root/telegraf"
  printf '[agent]\n  interval = "1s"\n  flush_interval = "1s"\n[[outputs.file]]\n  files = ["/tmp/metrics.out"]\n' > "$root/telegraf.conf"
  code=0; inroot "$root" timeout 4 /telegraf --config /telegraf.conf --config-directory /etc/telegraf/telegraf.d >/tmp/ipcwatch-package-telegraf.log 2>&1 || code=$?
  [ "$code" = 124 ] && ok || bad "Telegraf with the removed package's execd block exited $code: $(tail -3 /tmp/ipcwatch-package-telegraf.log)"
  rm -f "$root/telegraf" "$root/telegraf.conf"
fi
# Purge: nothing of ours.
inroot "$root" apt-get purge -y -qq ipcwatch >/dev/null 2>&1 && ok || bad "apt-get purge"
left=$(diff <(echo "$before") <(ours "$root") | grep '^[<>]' || true)
[ -z "$left" ] && ok || bad "after the purge the root differs from before the install:
$left"
lifecycle=$(( $(date +%s) - lifecycle_start ))

# Where setcap fails (a container without CAP_SETFCAP), the install says
# so and completes; a sudoers rule that does not parse is moved aside and
# the package stays unconfigured until root mends it.
root2=$(newroot)
cp "$deb" "$root2/ipcwatch.deb"
if inroot "$root2" capsh --drop=cap_setfcap -- -c 'apt-get install -y -qq --no-install-recommends /ipcwatch.deb' > /tmp/ipcwatch-package-nocap.log 2>&1 &&
   grep -q 'setcap on /usr/lib/nagios/plugins/check_sysvipc failed' /tmp/ipcwatch-package-nocap.log; then ok; else bad "install where setcap fails: $(tail -3 /tmp/ipcwatch-package-nocap.log)"; fi
echo 'nagios ALL=(root) NOPASSWD /usr/sbin/ipcwatch-remediate' >> "$root2/etc/sudoers.d/ipcwatch"
inroot "$root2" dpkg-reconfigure ipcwatch >/dev/null 2>&1 && bad "configure accepted a broken sudoers rule" || ok
[ ! -e "$root2/etc/sudoers.d/ipcwatch" ] && [ -e "$root2/etc/sudoers.d/ipcwatch.dpkg-broken" ] && ok || bad "the broken sudoers rule was not moved aside"
inroot "$root2" dpkg-reconfigure ipcwatch >/dev/null 2>&1 && bad "configure succeeded again while the rule is broken aside" || ok
rm -rf "$root2"

# The RPM installed into another fresh root with rpm --root (its %post runs
# there: setcap, visudo), then erased (%postun).
rroot=$(newroot)

rpm --root "$rroot" --initdb >/dev/null 2>&1 || true
if rpm --root "$rroot" --nodeps -i "$rpm" > /tmp/ipcwatch-rpm.log 2>&1 && ! grep -q 'scriptlet failed' /tmp/ipcwatch-rpm.log; then ok; else bad "rpm --root -i: $(cat /tmp/ipcwatch-rpm.log)"; fi
[ -x "$rroot/usr/lib64/nagios/plugins/check_sysvipc" ] && [ -x "$rroot/usr/sbin/ipcwatch-remediate" ] && ok || bad "the RPM's payload is not in place"
[ "$(getcap "$rroot/usr/lib64/nagios/plugins/check_sysvipc" | awk '{print $2}')" = "cap_ipc_owner=ep" ] && ok || bad "the RPM's %post gave no cap_ipc_owner"
rpm --root "$rroot" --nodeps -e ipcwatch > /tmp/ipcwatch-rpm.log 2>&1 && ! grep -q 'scriptlet failed' /tmp/ipcwatch-rpm.log && ok || bad "rpm -e: $(cat /tmp/ipcwatch-rpm.log)"
[ ! -e "$rroot/usr/sbin/ipcwatch-remediate" ] && ok || bad "rpm -e left the handler"
for d in /usr/lib/ipcwatch /usr/share/doc/ipcwatch /usr/lib/systemd/system/httpd.service.d /etc/ipcwatch; do
  [ ! -e "$rroot$d" ] && ok || bad "rpm -e left $d"
done

echo "package: $pass passed, $fail failed; the .deb's lifecycle took ${lifecycle}s, all of it $(( $(date +%s) - start ))s"
[ "$fail" = 0 ]
