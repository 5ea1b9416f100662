# ipcwatch: `make run` shows this host's System V IPC usage; `make test`
# runs every test, end-to-end included, installing what they need first.

GO       ?= go
# Static binaries: no dynamic loader at every start (check_sysvipc runs
# every minute on every host), and they run in any container.
export CGO_ENABLED ?= 0
BIN      := bin
PKGS     := ./...
FUZZTIME ?= 5s
# Debian packages the end-to-end tests run for real.
DEB_PKGS := apache2 monitoring-plugins-basic nagios4-core icinga2-bin util-linux procps
BENCH_PKGS := hyperfine
# Telegraf for the end-to-end test, built from the module proxy at the
# version go.mod requires, with only what the test runs.
TELEGRAF_VERSION := $(shell $(GO) list -m -f '{{.Version}}' github.com/influxdata/telegraf)
TELEGRAF_DIR     := $(CURDIR)/.cache/telegraf-$(TELEGRAF_VERSION)
TELEGRAF         := $(TELEGRAF_DIR)/telegraf

.PHONY: all build run test unit fuzz deps lint bench fixtures clean telegraf generate

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/check_sysvipc ./nagios/check_sysvipc
	$(GO) build -o $(BIN)/ipcwatch-telegraf ./shim
	$(GO) build -o $(BIN)/ipcwatch-remediate ./nagios/ipcwatch-remediate
	$(GO) build -o $(BIN)/ipcwatch-plugin-apache ./plugins/remediate/apache
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
	GOBIN=$(TELEGRAF_DIR) $(GO) install -tags custom,inputs.execd,outputs.file \
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

test: deps lint build telegraf fuzz unit

unit:
	IPCWATCH_TELEGRAF=$(TELEGRAF) $(GO) test -count=1 $(PKGS)

# A short run of every fuzz target; the seed corpora under testdata/fuzz
# already run as ordinary tests in `unit`.
fuzz:
	@set -e; for t in FuzzParseSem FuzzParseShm FuzzParseMsg FuzzParseKernelSem; do \
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

# fixtures re-captures the parser fixtures in a private IPC namespace.
fixtures:
	$(GO) build -o $(BIN)/capture ./plugins/common/sysvipc/testdata/capture
	cd plugins/common/sysvipc && for c in idle objects; do \
	  unshare --ipc ../../../$(BIN)/capture -case $$c -out testdata/$$c; done

clean:
	rm -rf $(BIN) .cache
