# The two commands in the README: `make run` and `make test`.
GO ?= go
# Two cores: run two test binaries at a time.
TESTFLAGS ?= -race -p 2 -timeout 30m

.PHONY: run test build fuzz fuzz-short bench install

# make run ARGS="--listen 127.0.0.1:2526" (or ARGS="-c my.toml") passes
# its arguments to the daemon.
run:
	$(GO) run ./cmd/moonpost $(ARGS)

# The whole suite, then the allocation checks (which the race detector's
# sync.Pool defeats) without -race, then every fuzz target for 1,000
# inputs (CI runs this).
test:
	./.ci/install-deps
	$(GO) vet ./...
	$(GO) test $(TESTFLAGS) ./...
	$(GO) test -count=1 -run 'LentBuffer' ./core/internal/bufpool
	$(MAKE) --no-print-directory fuzz-short FUZZTIME=1000x

build:
	$(GO) build -o bin/ ./cmd/...

# The relay benchmark against Postfix (docs/performance.md); needs root.
# BENCHFLAGS=--quick for the short development run.
bench:
	./bench/run $(BENCHFLAGS)

# Longer fuzzing of one target, e.g. make fuzz PKG=./core/queue TARGET=FuzzDecode
fuzz:
	$(GO) test -run '^$$' -fuzz '^$(TARGET)$$' -fuzztime 5m $(PKG)

# Every fuzz target, package:target; fuzz-short runs each for FUZZTIME.
# make test gives a count ("1000x"), not a duration: Go 1.26's fuzzing
# coordinator can fail a target with "context deadline exceeded" when a
# duration ends while a worker is mid-input (go.dev/issue/75804), and a
# count never starts that deadline.
FUZZ_TARGETS = \
	./core/queue:FuzzDecode ./core/cleanup:FuzzNormalizer \
	./core/smtpd:FuzzParseAddress ./core/smtpd:FuzzSession ./core/smtpd:FuzzContentReader \
	./core/deliver/smtp:FuzzParseNexthop ./core/deliver/smtp:FuzzDotWriter ./core/deliver/smtp:FuzzLineFolder ./core/deliver/smtp:FuzzReply ./core/deliver/lmtp:FuzzParseNexthop \
	./core/dns:FuzzAnswer ./core/dns:FuzzToASCII ./core/deliver/local/aliases:FuzzParse \
	./core/dsn:FuzzParseReport ./core/pickup:FuzzPick ./core/control:FuzzReadFrame \
	./stdlib/lookup:FuzzParseTables ./bench/smtpsink:FuzzReadData \
	./core/auth:FuzzParseTags ./core/auth:FuzzParseKey ./core/auth:FuzzDMARC ./core/auth:FuzzServID ./core/auth:FuzzVerify ./core/auth:FuzzBodyHasher \
	./hooks/luapat:FuzzMatch \
	./core/smtpd:FuzzInputEndOfData ./core/smtpd:FuzzInputLines \
	./core/httpapi:FuzzParseInject \
	./core/classify:FuzzParse ./core/classify:FuzzPrefilter \
	./core/throttle:FuzzParseRate \
	./core/milter:FuzzEdits ./stdlib/dnsbl:FuzzParseSite \
	./core/resolve:FuzzParseSamples \
	./core/mtasts:FuzzParsePolicy ./core/mtasts:FuzzParseRecord ./core/tlsrpt:FuzzParseRecord \
	./core/deliver/smtp:FuzzDANEMatch \
	./core/egress:FuzzCompileRule ./core/egress:FuzzPolicyRate ./core/egress:FuzzPolicySet \
	./core/milter:FuzzDataReply ./core/pickup/sendmail:FuzzInput ./core/pickup/sendmail:FuzzParse
FUZZTIME ?= 10s

fuzz-short:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== $${t%%:*} $${t##*:}"; \
		$(GO) test -run '^$$' -fuzz "^$${t##*:}$$" -fuzztime $(FUZZTIME) -parallel 2 "$${t%%:*}"; \
	done

# make install [PREFIX=/usr/local] [DESTDIR=]: the binaries, the
# sendmail/mailq/newaliases entry points, a default configuration (kept
# when one exists), the docs and the systemd unit (docs/operations.md,
# "Installing"). It starts nothing.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
SYSCONFDIR ?= $(PREFIX)/etc
DOCDIR ?= $(PREFIX)/share/doc/moonpost
UNITDIR ?= $(PREFIX)/lib/systemd/system

install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR)/moonpost $(DESTDIR)$(DOCDIR) $(DESTDIR)$(UNITDIR)
	install -m 0755 bin/moonpost bin/mailq bin/newaliases $(DESTDIR)$(BINDIR)/
	install -m 0755 bin/sendmail $(DESTDIR)$(SBINDIR)/sendmail
	[ -e $(DESTDIR)$(SYSCONFDIR)/moonpost/moonpost.toml ] || \
		install -m 0644 examples/systemd/moonpost.toml $(DESTDIR)$(SYSCONFDIR)/moonpost/moonpost.toml
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
		examples/systemd/moonpost.service.in > $(DESTDIR)$(UNITDIR)/moonpost.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/moonpost.service
