# ipcwatch: `make run` shows this host's System V IPC usage; `make test`
# runs every test, end-to-end included, installing what they need first.

GO       ?= go
comma    := ,
# Static binaries: no dynamic loader at every start (check_sysvipc runs
# every minute on every host), and they run in any container.
export CGO_ENABLED ?= 0
BIN      := bin
PKGS     := ./...
# A count, not a duration: Go 1.26's fuzz coordinator can report a spurious
# "context deadline exceeded" when a -fuzztime duration ends on a loaded
# machine (golang/go#75804, fixed in Go 1.27); a count has no deadline.
FUZZTIME ?= 60000x
# Debian packages the end-to-end tests run for real.
DEB_PKGS := apache2 monitoring-plugins-basic nagios4-core icinga2-bin util-linux procps sudo openssl php-fpm php-cli nginx gcc libc6-dev libcap2-bin systemd lintian rpm rpmlint mmdebstrap iproute2 prometheus
BENCH_PKGS := hyperfine
# Telegraf for the end-to-end tests, built from the module proxy at the
# version go.mod requires, with only what the tests run: the execd input,
# the file output, and the Prometheus endpoint the fleet test scrapes.
TELEGRAF_VERSION := $(shell $(GO) list -m -f '{{.Version}}' github.com/influxdata/telegraf)
TELEGRAF_TAGS    := custom,inputs.execd,outputs.file,outputs.prometheus_client
TELEGRAF_DIR     := $(CURDIR)/.cache/telegraf-$(TELEGRAF_VERSION)-$(subst $(comma),+,$(TELEGRAF_TAGS))
TELEGRAF         := $(TELEGRAF_DIR)/telegraf

.PHONY: all build run check test unit man package package-test safety fuzz deps lint bench fixtures clean telegraf generate install uninstall install-test

all: build

# The version -V and the plugin's Describe report: the packages' own
# (packaging/version.sh: a tag's, or the commit's time and hash, ~dirty
# for local changes).
VERSION  ?= $(shell packaging/version.sh rpm 2>/dev/null || echo unknown)
SYSCONFDIR ?= /etc
LDFLAGS   = -s -w -X github.com/ipcwatch/ipcwatch/nagios/check.Version=$(VERSION) \
            -X github.com/ipcwatch/ipcwatch/plugins/remediate/leaks.Version=$(VERSION) \
            -X github.com/ipcwatch/ipcwatch/plugins/common/sysvipc.DefaultPolicyFile=$(SYSCONFDIR)/ipcwatch/remediate.conf \
            -X main.defaultPluginDir=$(LIBDIR)

build:
	@mkdir -p $(BIN)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/check_sysvipc ./nagios/check_sysvipc
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ipcwatch-telegraf ./shim
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ipcwatch-remediate ./plugins/remediate/ipcwatch-remediate
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ipcwatch-plugin-apache ./plugins/remediate/ipcwatch-plugin-apache
	@# The manifest the remediation host trusts plugins by (sha256sum format).
	cd $(BIN) && sha256sum ipcwatch-plugin-apache > SHA256SUMS

# run: this host, with the embedded defaults: the check, then one gather
# of the Telegraf input as line protocol. A newline on stdin is one gather
# (what inputs.execd's signal = "STDIN" sends); stdin stays open a moment,
# because the shim stops at end of input even before a pending gather.
run: build
	@echo '== check_sysvipc -v'
	-@$(BIN)/check_sysvipc -v
	@echo '== ipcwatch-telegraf (one gather, line protocol)'
	@(echo; sleep 1) | $(BIN)/ipcwatch-telegraf -poll_interval_disabled 2>/dev/null

telegraf: $(TELEGRAF)

$(TELEGRAF):
	GOBIN=$(TELEGRAF_DIR) $(GO) install -tags $(TELEGRAF_TAGS) \
	  github.com/influxdata/telegraf/cmd/telegraf@$(TELEGRAF_VERSION)

# deps installs what the tests need on a fresh Debian machine: apt-get as
# root for missing packages only (so a warm machine pays nothing).
deps:
	@missing=""; for p in $(DEB_PKGS) $(EXTRA_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "missing Debian packages:$$missing (run make deps as root)"; fi; \
	fi
	$(GO) mod download

test: deps lint alerts build telegraf fuzz install-test package-test unit

# alerts: the Prometheus alerting rules for the Telegraf input's metrics,
# checked and unit-tested by promtool (Debian's prometheus package): each
# threshold's edges, the for: durations, the wording, a host that stops
# reporting.
ALERTS_DIR := plugins/inputs/sysvipc/alerts
.PHONY: alerts
alerts:
	promtool check rules $(ALERTS_DIR)/sysvipc.rules.yml
	cd $(ALERTS_DIR) && promtool test rules sysvipc.rules.test.yml

# package-test: make package, lintian, the .deb against make install, the
# RPM's metadata, and the .deb's install, Nagios loop, upgrade, remove and
# purge in a fresh Debian 12 root (cached in .cache), the RPM's in another.
package-test: build
	bash .ci/package-test.sh

# check: the fast loop, for every change: gofmt, vet, and every unit and
# fixture test, with no apt-get, no Apache and no Telegraf build (the
# end-to-end tests skip under -short; make test runs them all).
check: lint
	$(GO) test -short -count=1 $(PKGS)

install-test: build
	bash .ci/install-test.sh

# The programs are built once (make build) and every test package runs
# that one build, copied where other users may run it (the tests run the
# check as nobody): IPCWATCH_TEST_BIN tells ipctest.BuildBin not to build.
# Then the unit tests of the packages that run goroutines (parallel
# probes, the gRPC boundary, the input) once more under the race detector,
# which needs cgo; the shipped binaries stay static.
RACE_PKGS := ./plugins/common/sysvipc ./plugins/remediate ./plugins/remediate/leaks ./plugins/inputs/sysvipc
unit: build
	@set -e; d=$$(mktemp -d /tmp/ipcwatch-bin-XXXXXX); trap 'rm -rf $$d' EXIT; chmod 755 $$d; \
	cp $(BIN)/check_sysvipc $(BIN)/ipcwatch-telegraf $(BIN)/ipcwatch-remediate $(BIN)/ipcwatch-plugin-apache $(BIN)/SHA256SUMS $$d/; \
	IPCWATCH_TEST_BIN=$$d IPCWATCH_TELEGRAF=$(TELEGRAF) $(GO) test -count=1 $(PKGS)
	CGO_ENABLED=1 $(GO) test -race -count=1 $(RACE_PKGS)

# safety: the remediation-safety suite alone (part of unit): one test per
# scenario in which a past version removed a live mutex or killed a
# healthy process, with real Apache (about two minutes: a 60 s pass-phrase).
safety: deps build
	$(GO) test -count=1 -v ./plugins/e2e/safety

# soak: the seeded chaos soak alone (make test runs a short one): faults
# under load in private namespaces, the installed handler, check,
# Telegraf shim and a real Telegraf running throughout, the invariants
# checked all along. DURATION is each seed's run (default 60s); SEED=
# replays the seed a run printed (default: the fixed seed and one drawn
# now).
.PHONY: soak
soak: deps build telegraf
	@set -e; d=$$(mktemp -d /tmp/ipcwatch-bin-XXXXXX); trap 'rm -rf $$d' EXIT; chmod 755 $$d; \
	cp $(BIN)/check_sysvipc $(BIN)/ipcwatch-telegraf $(BIN)/ipcwatch-remediate $(BIN)/ipcwatch-plugin-apache $(BIN)/SHA256SUMS $$d/; \
	IPCWATCH_TEST_BIN=$$d IPCWATCH_TELEGRAF=$(TELEGRAF) IPCWATCH_SOAK_DURATION=$(DURATION) IPCWATCH_SOAK_SEED=$(SEED) \
	  $(GO) test -count=1 -v -timeout 0 -run '^TestSoak$$' ./plugins/e2e/soak

# A short run of every fuzz target; the seed corpora under testdata/fuzz
# already run as ordinary tests in `unit`.
fuzz:
	@set -e; for t in FuzzParseSem FuzzParseShm FuzzParseMsg FuzzParseKernelSem FuzzParseKernelLog; do \
	  $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./plugins/common/sysvipc; done
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./nagios/nagrange

lint:
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi
	$(GO) vet $(PKGS)

bench: build
	@$(MAKE) --no-print-directory deps EXTRA_PKGS="$(BENCH_PKGS)"
	$(GO) test -run '^$$' -bench 'ParseSem' -benchmem ./plugins/common/sysvipc
	bash .ci/bench.sh

# generate rebuilds the committed gRPC stubs of plugins/remediate/proto with
# Debian's protoc and the Go generators from the module proxy.
GOBIN_TOOLS := $(CURDIR)/.cache/gobin
generate:
	@$(MAKE) --no-print-directory deps EXTRA_PKGS=protobuf-compiler
	GOBIN=$(GOBIN_TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	GOBIN=$(GOBIN_TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
	PATH=$(GOBIN_TOOLS):$$PATH protoc --go_out=. --go_opt=module=github.com/ipcwatch/ipcwatch \
	  --go-grpc_out=. --go-grpc_opt=module=github.com/ipcwatch/ipcwatch plugins/remediate/proto/remediate.proto

# package: ipcwatch_<version>_amd64.deb and ipcwatch-<version>.x86_64.rpm in
# dist/, made by nfpm (pinned: the CLI from the module proxy, into
# .cache/gobin, so the module itself does not depend on it) from the tree
# make install stages (PREFIX=/usr, every Apache unit's drop-in, no setcap:
# the maintainer scripts give the capability).
NFPM_VERSION := v2.48.0
NFPM         := $(GOBIN_TOOLS)/nfpm-$(NFPM_VERSION)
DIST         := dist
package: $(NFPM)
	rm -rf $(DIST)/stage $(DIST)/upgrade $(DIST)/ipcwatch_*.deb $(DIST)/ipcwatch-*.rpm
	$(MAKE) --no-print-directory install PREFIX=/usr SYSCONFDIR=/etc DESTDIR=$(CURDIR)/$(DIST)/stage SETCAP=: \
	  APACHE_UNITS="$(ALL_APACHE_UNITS)" >/dev/null
	@set -e; v=$$(packaging/version.sh rpm); test -n "$$v"; \
	IPCWATCH_VERSION=$$v $(NFPM) package -f packaging/nfpm.yaml -p deb -t $(DIST)/ipcwatch_$$v-1_amd64.deb; \
	IPCWATCH_VERSION=$$v $(NFPM) package -f packaging/nfpm.yaml -p rpm -t $(DIST)/ipcwatch-$$v-1.x86_64.rpm

$(NFPM):
	@mkdir -p $(GOBIN_TOOLS)
	GOBIN=$(CURDIR)/.cache/nfpm $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)
	mv .cache/nfpm/nfpm $@

# fixtures re-captures the parser fixtures in a private IPC namespace.
fixtures:
	$(GO) test -c -o $(BIN)/capture.test ./plugins/common/sysvipc/testdata/capture
	cd plugins/common/sysvipc && for c in idle objects; do \
	  unshare --ipc ../../../$(BIN)/capture.test -test.run '^TestCapture$$' -case $$c -out testdata/$$c; done

# install: the tree the Debian package installs (make package), under
# PREFIX (Debian: make install PREFIX=/usr): the check into the monitoring
# plugins directory with cap_ipc_owner, the handler into sbin, the
# Telegraf shim into bin with cap_ipc_owner, the plugin and its manifest
# into lib/ipcwatch, root's policy and the shim's config into
# /etc/ipcwatch, the [[inputs.execd]] block into Telegraf's telegraf.d, the
# Nagios commands where Debian's Nagios reads plugin commands, the Icinga 2
# commands into Icinga's plugins-contrib.d, the sudoers rule, the unit
# drop-in, man pages made from each program's --help, and the README, an
# example Nagios service, the Icinga 2 fleet's example zone, host and
# service, the Prometheus alert rules and a changelog into the doc directory.
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
PLUGINDIR  ?= $(PREFIX)/lib/nagios/plugins
BINDIR     := $(PREFIX)/bin
SBINDIR    := $(PREFIX)/sbin
LIBDIR     := $(PREFIX)/lib/ipcwatch
DOCDIR     := $(PREFIX)/share/doc/ipcwatch
MANDIR     := $(PREFIX)/share/man
ICINGA2_CONTRIBDIR ?= $(PREFIX)/share/icinga2/include/plugins-contrib.d
NAGIOS_PLUGINS_CONFDIR ?= $(SYSCONFDIR)/nagios-plugins/config
TELEGRAF_CONFDIR ?= $(SYSCONFDIR)/telegraf/telegraf.d
# Debian runs Nagios and Icinga 2 checks as the nagios user.
MONITOR_USER ?= nagios
# setcap gives the check and the shim cap_ipc_owner; the packages' postinst
# does it instead (SETCAP=:), as a package carries no file capabilities.
SETCAP     ?= setcap
# The unit drop-in (the start hooks) is on after install, for each Apache
# unit this host has: Debian's apache2.service and apache2@.service, RHEL's
# httpd.service and httpd@.service. It goes where systemd looks for a
# package's drop-ins (/usr/lib/systemd/system, or /usr/local/lib/systemd/system
# for PREFIX=/usr/local), so an admin's file of the same name in
# /etc/systemd/system/<unit>.d/ wins: a link to /dev/null is the opt-out.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
ALL_APACHE_UNITS := apache2.service apache2@.service httpd.service httpd@.service
UNIT_DIRS      := /etc/systemd/system /run/systemd/system /usr/local/lib/systemd/system /lib/systemd/system /usr/lib/systemd/system
APACHE_UNITS   ?= $(shell for u in $(ALL_APACHE_UNITS); do \
                    for d in $(UNIT_DIRS); do [ -e $$d/$$u ] && { echo $$u; break; }; done; done)
DROPIN         := ipcwatch-witness.conf
# The shipped files name the packages' paths; an install elsewhere
# rewrites them.
PATHS_SED := s|/usr/sbin/ipcwatch-remediate|$(SBINDIR)/ipcwatch-remediate|g; s|/usr/bin/ipcwatch-telegraf|$(BINDIR)/ipcwatch-telegraf|g; s|/etc/ipcwatch/|$(SYSCONFDIR)/ipcwatch/|g

install: build man
	install -d $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBDIR) \
	  $(DESTDIR)$(SYSCONFDIR)/ipcwatch $(DESTDIR)$(TELEGRAF_CONFDIR) $(DESTDIR)$(NAGIOS_PLUGINS_CONFDIR) \
	  $(DESTDIR)$(ICINGA2_CONTRIBDIR) $(DESTDIR)$(DOCDIR)/examples/nagios $(DESTDIR)$(DOCDIR)/examples/icinga2-fleet \
	  $(DESTDIR)$(DOCDIR)/examples/prometheus $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8
	install -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/sudoers.d
	install -m 0755 $(BIN)/check_sysvipc $(DESTDIR)$(PLUGINDIR)/
	install -m 0755 $(BIN)/ipcwatch-remediate $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(BIN)/ipcwatch-telegraf $(DESTDIR)$(BINDIR)/
	install -m 0755 $(BIN)/ipcwatch-plugin-apache $(DESTDIR)$(LIBDIR)/
	@# The check and the shim read other users' arrays (semctl GETVAL,
	@# GETNCNT, GETZCNT, GETPID), which needs read permission on each array
	@# or CAP_IPC_OWNER: as the nagios and telegraf users they get that one
	@# capability, as a file capability, and nothing else (README: Install).
	$(SETCAP) cap_ipc_owner=ep $(DESTDIR)$(PLUGINDIR)/check_sysvipc
	$(SETCAP) cap_ipc_owner=ep $(DESTDIR)$(BINDIR)/ipcwatch-telegraf
	cd $(DESTDIR)$(LIBDIR) && sha256sum ipcwatch-plugin-apache > SHA256SUMS && chmod 0644 SHA256SUMS
	install -m 0644 sample.conf $(DESTDIR)$(SYSCONFDIR)/ipcwatch/telegraf-sysvipc.conf
	install -m 0644 nagios/shipped/ipcwatch/remediate.conf $(DESTDIR)$(SYSCONFDIR)/ipcwatch/remediate.conf
	sed '$(PATHS_SED)' nagios/shipped/telegraf/ipcwatch-execd.conf > $(DESTDIR)$(TELEGRAF_CONFDIR)/ipcwatch.conf
	sed '$(PATHS_SED)' nagios/shipped/nagios/commands.cfg > $(DESTDIR)$(NAGIOS_PLUGINS_CONFDIR)/sysvipc.cfg
	sed '$(PATHS_SED)' nagios/shipped/icinga2/sysvipc.conf > $(DESTDIR)$(ICINGA2_CONTRIBDIR)/sysvipc.conf
	install -m 0644 nagios/shipped/nagios/services.cfg $(DESTDIR)$(DOCDIR)/examples/nagios/services.cfg
	install -m 0644 nagios/shipped/icinga2/fleet/zones-agent.conf nagios/shipped/icinga2/fleet/host-agent.conf \
	  nagios/shipped/icinga2/fleet/services.conf $(DESTDIR)$(DOCDIR)/examples/icinga2-fleet/
	install -m 0644 plugins/inputs/sysvipc/alerts/sysvipc.rules.yml $(DESTDIR)$(DOCDIR)/examples/prometheus/sysvipc.rules.yml
	install -D -m 0644 nagios/shipped/logrotate/ipcwatch $(DESTDIR)$(SYSCONFDIR)/logrotate.d/ipcwatch
	chmod 0644 $(DESTDIR)$(TELEGRAF_CONFDIR)/ipcwatch.conf $(DESTDIR)$(NAGIOS_PLUGINS_CONFDIR)/sysvipc.cfg $(DESTDIR)$(ICINGA2_CONTRIBDIR)/sysvipc.conf
	printf '%s\n' '# ipcwatch: the monitoring user may run the remediation handler as root, and nothing else.' \
	  '$(MONITOR_USER) ALL=(root) NOPASSWD: $(SBINDIR)/ipcwatch-remediate' > $(DESTDIR)$(SYSCONFDIR)/sudoers.d/ipcwatch
	chmod 0440 $(DESTDIR)$(SYSCONFDIR)/sudoers.d/ipcwatch
	install -m 0644 $(BIN)/man/check_sysvipc.8.gz $(BIN)/man/ipcwatch-remediate.8.gz $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(BIN)/man/ipcwatch-telegraf.1.gz $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -m 0644 $(BIN)/man/changelog.Debian.gz $(BIN)/man/copyright $(DESTDIR)$(DOCDIR)/
	@for u in $(APACHE_UNITS); do \
	  install -d $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.d; \
	  sed '$(PATHS_SED)' nagios/shipped/systemd/$(DROPIN) > $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.d/$(DROPIN); \
	  chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.d/$(DROPIN); \
	  echo "the start hooks are on for $$u: $(SYSTEMDUNITDIR)/$$u.d/$(DROPIN)"; done
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

uninstall:
	rm -f $(DESTDIR)$(PLUGINDIR)/check_sysvipc $(DESTDIR)$(SBINDIR)/ipcwatch-remediate $(DESTDIR)$(BINDIR)/ipcwatch-telegraf \
	  $(DESTDIR)$(LIBDIR)/ipcwatch-plugin-apache $(DESTDIR)$(LIBDIR)/SHA256SUMS \
	  $(DESTDIR)$(SYSCONFDIR)/ipcwatch/telegraf-sysvipc.conf $(DESTDIR)$(SYSCONFDIR)/ipcwatch/remediate.conf \
	  $(DESTDIR)$(SYSCONFDIR)/sudoers.d/ipcwatch $(DESTDIR)$(TELEGRAF_CONFDIR)/ipcwatch.conf $(DESTDIR)$(SYSCONFDIR)/logrotate.d/ipcwatch \
	  $(DESTDIR)$(NAGIOS_PLUGINS_CONFDIR)/sysvipc.cfg $(DESTDIR)$(ICINGA2_CONTRIBDIR)/sysvipc.conf \
	  $(DESTDIR)$(MANDIR)/man8/check_sysvipc.8.gz $(DESTDIR)$(MANDIR)/man8/ipcwatch-remediate.8.gz \
	  $(DESTDIR)$(MANDIR)/man1/ipcwatch-telegraf.1.gz
	rm -rf $(DESTDIR)$(DOCDIR)
	@for u in $(ALL_APACHE_UNITS); do \
	  rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.d/$(DROPIN); rmdir $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.d 2>/dev/null || true; done
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	-rmdir $(DESTDIR)$(LIBDIR) $(DESTDIR)$(SYSCONFDIR)/ipcwatch 2>/dev/null

# man: a page for each program, made from its own --help (so it never
# drifts), and the doc directory's changelog and copyright, into bin/man.
man: build
	@mkdir -p $(BIN)/man
	bash packaging/manpage.sh $(BIN) $(BIN)/man "$(VERSION)"

clean:
	rm -rf $(BIN) .cache
