# The two commands in the README: `make run` and `make test`.
GO ?= go
# Two cores: run two test binaries at a time.
TESTFLAGS ?= -race -p 2 -timeout 30m

.PHONY: run test build fuzz bench

run:
	$(GO) run ./cmd/moonpost

test:
	./.ci/install-deps
	$(GO) vet ./...
	$(GO) test $(TESTFLAGS) ./...

build:
	$(GO) build -o bin/ ./cmd/...

# The relay benchmark against Postfix (docs/performance.md); needs root.
# BENCHFLAGS=--quick for the short development run.
bench:
	./bench/run $(BENCHFLAGS)

# Longer fuzzing of one target, e.g. make fuzz PKG=./core/queue TARGET=FuzzDecode
fuzz:
	$(GO) test -run '^$$' -fuzz '^$(TARGET)$$' -fuzztime 5m $(PKG)
