#!/usr/bin/env bash
# make install and make uninstall into a scratch DESTDIR: every file where
# it belongs with its mode, the sudoers snippet valid, nothing left after.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=$(mktemp -d /tmp/ipcwatch-install.XXXXXX)
trap 'rm -rf "$dest"' EXIT
make --no-print-directory install PREFIX=/usr DESTDIR="$dest" >/dev/null
pass=0 fail=0
expect() { # path mode
  local got
  got=$(stat -c %a "$dest$1" 2>/dev/null || echo missing)
  if [ "$got" = "$2" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1 mode $got, want $2"; fi
}
expect /usr/lib/nagios/plugins/check_sysvipc 755
expect /usr/sbin/ipcwatch-remediate 755
expect /usr/bin/ipcwatch-telegraf 755
expect /usr/lib/ipcwatch/ipcwatch-plugin-apache 755
expect /usr/lib/ipcwatch/SHA256SUMS 644
expect /etc/ipcwatch/telegraf-sysvipc.conf 644
expect /etc/ipcwatch/remediate.conf 644
expect /etc/telegraf/telegraf.d/ipcwatch.conf 644
expect /etc/nagios-plugins/config/sysvipc.cfg 644
expect /usr/share/icinga2/include/plugins-contrib.d/sysvipc.conf 644
expect /usr/share/doc/ipcwatch/examples/nagios/services.cfg 644
expect /usr/share/doc/ipcwatch/examples/icinga2-fleet/zones-agent.conf 644
expect /usr/share/doc/ipcwatch/examples/icinga2-fleet/host-agent.conf 644
expect /usr/share/doc/ipcwatch/examples/icinga2-fleet/services.conf 644
expect /usr/share/doc/ipcwatch/examples/prometheus/sysvipc.rules.yml 644
expect /usr/share/doc/ipcwatch/README.md 644
expect /usr/share/doc/ipcwatch/changelog.Debian.gz 644
expect /usr/share/doc/ipcwatch/copyright 644
expect /usr/share/man/man8/check_sysvipc.8.gz 644
expect /usr/share/man/man8/ipcwatch-remediate.8.gz 644
expect /usr/share/man/man1/ipcwatch-telegraf.1.gz 644
expect /etc/sudoers.d/ipcwatch 440
# The drop-in is on after install for the Apache units this host has
# (Debian's apache2 package: apache2.service and apache2@.service).
for unit in apache2.service apache2@.service; do
  expect "/usr/lib/systemd/system/$unit.d/ipcwatch-witness.conf" 644
  if cmp -s nagios/shipped/systemd/ipcwatch-witness.conf "$dest/usr/lib/systemd/system/$unit.d/ipcwatch-witness.conf"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: the $unit drop-in differs from the shipped one"; fi
done
# The systemd drop-in, under Debian's own apache2.service and apache2@.service:
# systemd-analyze verify must be silent. A copy without the "-" prefixes
# (which make systemd overlook a missing program) pointing at the DESTDIR
# tree proves the command exists; the shipped file must name /usr/sbin.
units=$dest/units
for unit in apache2.service apache2@.service; do
  mkdir -p "$units/$unit.d"
  cp "/lib/systemd/system/$unit" "$units/"
  sed "s|=-/usr/sbin/|=$dest/usr/sbin/|" "$dest/usr/lib/systemd/system/apache2.service.d/ipcwatch-witness.conf" > "$units/$unit.d/ipcwatch-witness.conf"
done
cp /lib/systemd/system/apache2@.service "$units/apache2@www2.service"
# RHEL's httpd.service (Type=notify), its ExecStart pointed at Debian's binary, which is what exists here.
mkdir -p "$units/httpd.service.d"
cp "$units/apache2.service.d/ipcwatch-witness.conf" "$units/httpd.service.d/"
printf '%s\n' '[Unit]' 'Description=The Apache HTTP Server' 'After=network.target remote-fs.target nss-lookup.target' \
  '[Service]' 'Type=notify' 'Environment=LANG=C' 'ExecStart=/usr/sbin/apache2 $OPTIONS -DFOREGROUND' \
  'ExecReload=/usr/sbin/apache2 $OPTIONS -k graceful' 'KillSignal=SIGWINCH' 'KillMode=mixed' 'PrivateTmp=true' \
  'OOMPolicy=continue' '[Install]' 'WantedBy=multi-user.target' > "$units/httpd.service"
if out=$(SYSTEMD_UNIT_PATH="$units:" systemd-analyze verify --man=no "$units/apache2.service" "$units/apache2@www2.service" "$units/httpd.service" 2>&1) && [ -z "$out" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: systemd-analyze verify of the drop-in: $out"; fi
if grep -qx 'ExecStartPre=-/usr/sbin/ipcwatch-remediate --before-start --unit %n' "$dest/usr/lib/systemd/system/apache2.service.d/ipcwatch-witness.conf" &&
   grep -qx 'ExecStartPost=-/usr/sbin/ipcwatch-remediate --after-start --unit %n --main-pid $MAINPID' "$dest/usr/lib/systemd/system/apache2.service.d/ipcwatch-witness.conf"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: the drop-in's hooks"; fi
# The README's opt-out: a link to /dev/null of the same name in
# /etc/systemd/system/<unit>.d/ masks the installed drop-in. Its hooks,
# pointed at a missing program (no "-"), make verify complain only while
# the drop-in applies.
etc=$dest/etc-systemd
mkdir -p "$etc/apache2.service.d" "$units/vendor/apache2.service.d"
cp /lib/systemd/system/apache2.service "$units/vendor/"
printf '[Service]\nExecStartPre=%s/missing --before-start --unit %%n\n' "$dest" > "$units/vendor/apache2.service.d/ipcwatch-witness.conf"
if ! SYSTEMD_UNIT_PATH="$etc:$units/vendor:" systemd-analyze verify --man=no apache2.service >/dev/null 2>&1; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: the vendor drop-in does not apply"; fi
ln -s /dev/null "$etc/apache2.service.d/ipcwatch-witness.conf"
if out=$(SYSTEMD_UNIT_PATH="$etc:$units/vendor:" systemd-analyze verify --man=no apache2.service 2>&1) && [ -z "$out" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: the opt-out does not mask the drop-in: $out"; fi
rm -rf "$units" "$etc"
# The shipped policy file is one the installed handler accepts.
if "$dest/usr/sbin/ipcwatch-remediate" --policy "$dest/etc/ipcwatch/remediate.conf" --dry-run --audit-log "$dest/audit.jsonl" --lock "$dest/lock" --plugin /nonexistent 2>&1 | grep -q "policy file"; then fail=$((fail + 1)); echo "FAIL: the shipped remediate.conf is refused"; else pass=$((pass + 1)); fi
rm -f "$dest/audit.jsonl" "$dest/lock"
# The check and the shim carry CAP_IPC_OWNER and nothing else; the handler
# and the plugin carry no capability (root runs them through sudo).
for f in /usr/lib/nagios/plugins/check_sysvipc /usr/bin/ipcwatch-telegraf; do
  if [ "$(getcap "$dest$f" | awk '{print $2}')" = "cap_ipc_owner=ep" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $f capabilities: $(getcap "$dest$f")"; fi
done
for f in /usr/sbin/ipcwatch-remediate /usr/lib/ipcwatch/ipcwatch-plugin-apache; do
  if [ -z "$(getcap "$dest$f")" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $f has capabilities: $(getcap "$dest$f")"; fi
done
# The manifest must vouch for the installed plugin, and the config must be
# the plugin's sample.conf.
if (cd "$dest/usr/lib/ipcwatch" && sha256sum -c --quiet SHA256SUMS); then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: SHA256SUMS does not match"; fi
if cmp -s sample.conf "$dest/etc/ipcwatch/telegraf-sysvipc.conf"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: telegraf-sysvipc.conf differs from sample.conf"; fi
if visudo -cf "$dest/etc/sudoers.d/ipcwatch" >/dev/null; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: sudoers snippet invalid"; fi
if grep -q "NOPASSWD: /usr/sbin/ipcwatch-remediate$" "$dest/etc/sudoers.d/ipcwatch"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: sudoers snippet names another program"; fi
make --no-print-directory uninstall PREFIX=/usr DESTDIR="$dest" >/dev/null
left=$(find "$dest" -type f | wc -l)
if [ "$left" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: uninstall left $left files"; find "$dest" -type f; fi
echo "install: $pass passed, $fail failed"
[ "$fail" = 0 ]
