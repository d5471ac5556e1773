# reconcile: see README.md. `make test` is what CI runs (through .ci/run).
GO      ?= go
BIN     := bin/reconcile
PKGS    := ./...
# Kernel tests create network namespaces; keep package parallelism low on small machines.
TESTFLAGS ?= -count=1 -p 2 -timeout 30m

.PHONY: all deps build test unit demo bench bench-go fuzz fuzz-differential fuzz-kernel stress vet lint clean

all: build

# nftables, iproute2, git, gnupg, ssh-keygen: installed with apt-get when missing (as root).
deps:
	@bash .ci/deps

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/reconcile

vet:
	$(GO) vet $(PKGS)

# staticcheck (default checks, tests included) when it is installed, on PATH or in $(go env
# GOPATH)/bin; otherwise a note on how to install it. Not part of `make test`.
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || ls "$$($(GO) env GOPATH)/bin/staticcheck" 2>/dev/null)
lint:
	@if [ -n "$(STATICCHECK)" ]; then \
		echo "$(STATICCHECK) $(PKGS)"; $(STATICCHECK) $(PKGS); \
	else \
		echo "lint: staticcheck is not installed: go install honnef.co/go/tools/cmd/staticcheck@latest"; \
	fi

# Everything: unit, CLI and (as root) kernel tests in private network namespaces.
test: deps build vet
	$(GO) test $(TESTFLAGS) $(PKGS)

# Fast tests only: no kernel, no root needed.
unit:
	$(GO) test -count=1 -short $(PKGS)

# The bundled policies/ repository enforced in a lab of network namespaces; prints the matrix.
demo: deps build
	$(GO) run ./reconcile/internal/lab/cmd/reconcile-lab -bin $(BIN) -policies policies

# Issue 10's benchmark (root; throwaway network namespaces; some 10 minutes on 2 cores): the
# dense and fleet shapes through the built binary, each step next to its reference (nft -f of
# our own script, nft list table, the first apply) and its target; prints the table and writes
# BENCHMARKS.md. BENCHFLAGS passes options (go run ./reconcile/internal/bench/cmd/reconcile-bench -h).
BENCHFLAGS ?=
bench: deps build
	$(GO) run ./reconcile/internal/bench/cmd/reconcile-bench -bin $(BIN) -out BENCHMARKS.md $(BENCHFLAGS)

# The Go benchmarks of the packages (testing.B), one iteration each.
bench-go: build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x -timeout 60m ./reconcile/...

# Fuzzing, FUZZTIME per target (default 60s): FuzzLoad (schema decoding and validation) and
# FuzzPipeline (generated repositories through validation, compile, nft -c -f, the fake and,
# as root, the kernel in a private network namespace; some 50 inputs a second). New crashers
# land in testdata/fuzz/; FuzzPipeline minimizes with at most 100 runs an input, as each run is
# slow.
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./schema
	$(GO) test -run '^$$' -fuzz '^FuzzPipeline$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./reconcile/compile

# The differential of issue 9 for DURATION (default 10m): fresh seeded repositories and
# packets through the simulator and the evaluator; prints repositories × packets tried and the
# disagreements, each minimised and kept under reconcile/internal/differential/testdata/
# differential/ (a regression case of `make test` from then on). SEED picks the first seed.
DURATION ?= 10m
SEED ?= 0
fuzz-differential:
	$(GO) test -count=1 -v -timeout 0 -run '^TestDifferentialSimEval$$' ./reconcile/internal/differential \
		-args -differential.duration=$(DURATION) -differential.seed=$(SEED)

# The three-way differential of issue 9 (root): for DURATION, fresh seeded repositories applied
# with the built binary on both hosts of a namespace lab (a lab self-test first), every packet
# the lab can send through the kernel and compared with the simulator and the evaluator (and
# the packets from or to outside the model with those two); prints repositories × packets and
# the disagreements per pair, and fails on any. `make test` runs 4 fixed seeds of it.
fuzz-kernel: deps
	$(GO) test -count=1 -v -timeout 0 -run '^TestDifferentialKernel$$' ./reconcile/internal/differential \
		-args -differential.kernel-duration=$(DURATION) -differential.seed=$(SEED)

# The kill tests of issue 11, long (root; private namespaces; some 6 minutes on 2 cores):
# `reconcile apply` (first apply, in place, --full) killed with SIGKILL KILLS times and `reconcile
# watch` killed during a pass WATCH_KILLS times, at seeded random moments, on a Dense(KILL_SIZE)
# policy from a git remote; after each kill the kernel must hold exactly the old or the new
# ruleset, the state record parse and name the old or the new commit, the git clone pass git
# fsck, and the next run converge. Prints the counts (kills by kind and phase, torn states,
# records lagging the kernel, clone repairs). `make test` runs 40 + 10 kills of seed 1. SEED
# (shared with the fuzz targets above; 0 is a seed like any other) picks the run.
# Then the concurrent-writer and two-process tests with ROUNDS applies per case (`make test`:
# 12): a real `nft` writer racing every apply, two applies or an apply and a watch started
# together.
KILLS ?= 250
WATCH_KILLS ?= 50
KILL_SIZE ?= 800
ROUNDS ?= 40
stress: deps
	$(GO) test -count=1 -v -timeout 0 -run '^TestKernelKill(Apply|Watch)$$' ./reconcile/e2e \
		-args -kill.count=$(KILLS) -kill.watch=$(WATCH_KILLS) -kill.seed=$(SEED) -kill.size=$(KILL_SIZE)
	$(GO) test -count=1 -v -timeout 0 -run '^TestKernel(ConcurrentWriter|TwoApplies|ApplyWhileWatching)$$' ./reconcile/e2e \
		-args -concurrent.rounds=$(ROUNDS) -concurrent.seed=$(SEED)

clean:
	rm -rf bin
