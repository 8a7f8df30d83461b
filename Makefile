# ringd: build, test, lint and demo. `make` alone lists the targets; a target
# shows up there when its line ends with a `## what it does` comment.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules

GO ?= go
BIN := bin

# staticcheck runs at a pinned version through `go run pkg@version`: it comes
# from the module cache and stays out of go.mod. v0.8.2 is staticcheck
# 2026.2.2, which knows Go 1.26.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# The race detector needs cgo, so a C compiler; the go command turns cgo off by
# itself where it finds none. There the tests run without -race (and say so)
# instead of failing, so `make test` works with nothing but Go installed.
RACE = $(if $(filter 1,$(shell $(GO) env CGO_ENABLED)),-race,)

# The Go modules of the repository: the daemon's, and clientlib's own (an
# application that imports the client library gets none of the daemon's
# dependencies). `go ... ./...` stops at a nested module, so every
# module-wide step runs once per module.
MODULES := . clientlib helm/test cmd/ringd-image docs/openapi/check

# helm, for the chart's checks, is built from source at a pinned version into
# bin/ (no package manager has it): `make helm`.
HELM_VERSION := v3.22.0
HELM := $(BIN)/helm

# Checks that must pass before the tests run. Append more, e.g.
# `TEST_CHECKS += check-generated` once generated files are checked for drift.
TEST_CHECKS := vet tidy deps

# How much each fuzz target runs inside `make test` (more: make fuzz
# FUZZTIME=5m). A count of inputs, not a duration: with a duration, Go 1.26's
# fuzzing coordinator can fail a clean run with a bare "context deadline
# exceeded" when the time runs out while a worker is busy (go.dev/issue/75804,
# fixed in Go 1.27); a count has no deadline to race. 50000 inputs take
# 7-10 s per target on the 2-core CI machine.
FUZZTIME ?= 50000x

# Extra flags for cmd/ringdemo, e.g. `make demo DEMO_ARGS='--members 5'`.
DEMO_ARGS ?=

.PHONY: help
help: ## list the targets
	@echo "usage: make TARGET"
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z_-]+:.*## / { printf "  %-8s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/ringd and every other command under cmd/ into bin/
	$(GO) build -buildvcs=auto -o $(BIN)/ ./cmd/...

.PHONY: test
# -p 1: one package at a time. Several packages run clusters on real timers
# (memberlist failure detection, leases); run side by side on a 2-core machine
# under the race detector they starve each other into false failure
# detections. The whole suite still takes only a few minutes.
test: $(TEST_CHECKS) $(HELM) ## go vet, then every test (race detector on where cgo works)
	@if [[ -z "$(RACE)" ]]; then echo "note: cgo is off (no C compiler?), running the tests without -race"; fi
	$(GO) test $(RACE) -count=1 -p 1 -timeout 15m ./...
	cd clientlib && $(GO) test $(RACE) -count=1 -timeout 5m ./...
	cd cmd/ringd-image && $(GO) test $(RACE) -count=1 -timeout 5m ./...
	cd docs/openapi/check && $(GO) test -count=1 -timeout 5m ./...
	cd helm/test && HELM=$(abspath $(HELM)) $(GO) test $(RACE) -count=1 -timeout 15m ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each (default 50000x inputs; e.g. make fuzz FUZZTIME=5m)
	$(GO) test -run '^$$' -fuzz '^FuzzAPI$$' -fuzztime $(FUZZTIME) ./restapi/
	$(GO) test -run '^$$' -fuzz '^FuzzPlan$$' -fuzztime $(FUZZTIME) ./rebalance/
	$(GO) test -run '^$$' -fuzz '^FuzzTableBinary$$' -fuzztime $(FUZZTIME) ./partitions/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeEnvelope$$' -fuzztime $(FUZZTIME) ./daemon/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeMeta$$' -fuzztime $(FUZZTIME) ./daemon/
	$(GO) test -run '^$$' -fuzz '^FuzzConfigFile$$' -fuzztime $(FUZZTIME) ./cmd/ringd/

# The core's scenario files record the messages and state after each step;
# after a change of behaviour, regenerate them and read the diff before
# committing it (daemon/core/testdata/README.md).
.PHONY: golden
golden: ## rewrite the scenario files (daemon/core/testdata, election/testdata) with what the code does now
	$(GO) test -count=1 -run '^TestScenarios$$' ./daemon/core/ ./election/ -rewrite
	@git diff --stat -- daemon/core/testdata/ election/testdata/

# The browser test drives the dashboard in Debian's Chromium; install it when
# it is missing (root on Debian, as on CI).
.PHONY: deps
deps: ## install what the tests need beyond Go (Debian's chromium, via apt-get)
	@if command -v chromium >/dev/null 2>&1; then echo "chromium: $$(command -v chromium)"; \
	else echo "installing chromium with apt-get"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq chromium >/dev/null; fi

# Figure h of the benchmark suite cuts links inside network namespaces with
# nftables; install it when it is missing (root on Debian).
.PHONY: bench-deps
bench-deps: ## install what `make bench` needs beyond Go (Debian's nftables, via apt-get)
	@if command -v nft >/dev/null 2>&1; then echo "nft: $$(command -v nft)"; \
	else echo "installing nftables with apt-get"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq nftables iproute2 >/dev/null; fi

.PHONY: helm
helm: $(HELM) ## build helm $(HELM_VERSION) into bin/ (for the chart's checks)

$(HELM):
	@echo "building helm $(HELM_VERSION) into $(BIN)/ (once; takes a minute or two)"
	GOBIN=$(abspath $(BIN)) $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

# Container images without a Docker engine (cmd/ringd-image, a module of its
# own, on go-containerregistry): bin/ringd-image.tar and
# bin/ringd-worker-image.tar, for `docker load` or `podman load`. The
# Dockerfile makes the same ringd image for those who build with Docker.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: image
image: ## build the ringd and ringd-worker images as docker-load tarballs in bin/ (no Docker needed; VERSION=...)
	cmd/ringd-image/build.sh $(VERSION) $(BIN)

.PHONY: swagger
swagger: ## regenerate the OpenAPI documents in docs/openapi from the swag annotations
	$(GO) generate ./docs/openapi/

.PHONY: vet
vet: ## go vet ./... in every module
	@for m in $(MODULES); do echo "go vet ($$m)"; (cd $$m && $(GO) vet ./...); done

.PHONY: lint
lint: vet ## go vet, then staticcheck (pinned, default checks)
	@for m in $(MODULES); do (cd $$m && $(STATICCHECK) ./...); done

.PHONY: tidy
tidy: ## fail if `go mod tidy` would change go.mod or go.sum (changes nothing)
	@# -diff prints what tidy would change and exits non-zero, leaving both files as they are.
	@for m in $(MODULES); do (cd $$m && $(GO) mod tidy -diff) || { echo "$$m/go.mod or go.sum are not tidy: run 'go mod tidy' there and commit the result" >&2; exit 1; }; done

.PHONY: demo
demo: build ## start 3 ringd members, each with a worker, on loopback; kill, restart and drain one; show the partitions move
	$(BIN)/ringdemo --ringd $(BIN)/ringd --worker $(BIN)/ringd-worker $(DEMO_ARGS)

# The benchmark suite (cmd/ringbench): every figure of docs/benchmarks.md,
# each next to its baseline, over repeated trials. It takes a long while (real
# processes, 20+ kills per profile); BENCH_FIGURES=a,g runs some figures only
# and keeps the other sections. bench-quick runs every figure with few trials
# into bin/benchmarks-quick.md, leaving the committed report alone.
BENCH_FIGURES ?=

.PHONY: bench
bench: build bench-deps ## run the whole benchmark suite and rewrite docs/benchmarks.md (BENCH_FIGURES=a,b to run some)
	$(GO) run ./cmd/ringbench --ringd $(BIN)/ringd --out docs/benchmarks.md $(if $(BENCH_FIGURES),--figures $(BENCH_FIGURES),)

.PHONY: bench-quick
bench-quick: build bench-deps ## a short run of every figure into bin/benchmarks-quick.md
	@cp -n docs/benchmarks.md $(BIN)/benchmarks-quick.md 2>/dev/null || true
	$(GO) run ./cmd/ringbench --quick --ringd $(BIN)/ringd --out $(BIN)/benchmarks-quick.md $(if $(BENCH_FIGURES),--figures $(BENCH_FIGURES),)

.PHONY: bench-go
bench-go: ## run the Go micro-benchmarks of every package
	$(GO) test -run '^$$' -bench . -benchmem ./...
	cd clientlib && $(GO) test -run '^$$' -bench . -benchmem ./...

# The soak run: random fault schedules of the real protocol core on the
# simulated network, from a random first seed, until SOAK has passed (each
# failing seed is printed with the command that replays it), then the
# randomized schedules over real memberlist on the fault-injecting transport,
# then real processes: SOAK_ROLLOUTS rounds of a 3-pod Deployment rollout and
# SOAK_CHURN pods recreated under new names beside three stable members.
SOAK ?= 10m
SOAK_MEMBERLIST ?= 20
SOAK_ROLLOUTS ?= 3
SOAK_CHURN ?= 40
SOAK_CHART ?= 3

.PHONY: soak
soak: $(HELM) ## run random fault schedules for SOAK (default 10m), e.g. make soak SOAK=2h
	$(GO) test -count=1 -timeout 0 -run '^TestSoak$$' ./daemon/core/ -soak $(SOAK) -v | grep -E '^(---|ok|FAIL|PASS)|soak:|seed'
	$(GO) test $(RACE) -count=1 -timeout 0 -run '^TestFaultSchedules$$' ./daemon/ -fault-schedules $(SOAK_MEMBERLIST)
	RINGD_ROLLOUT_ROUNDS=$(SOAK_ROLLOUTS) RINGD_CHURN_ROUNDS=$(SOAK_CHURN) \
	  $(GO) test -count=1 -timeout 0 -v -run '^(TestProcessDeploymentRollout|TestProcessRecreatedMember)$$' ./cmd/ringd/ | grep -E '^(---|ok|FAIL|PASS)|round|overlap|violation'
	cd helm/test && HELM=$(abspath $(HELM)) RINGD_CHART_ROUNDS=$(SOAK_CHART) $(GO) test -count=1 -timeout 0 -v -run '^TestRendered' ./... | grep -E '^(---|ok|FAIL|PASS)|round|violation'

.PHONY: clean
clean: ## remove bin/
	rm -rf $(BIN)
