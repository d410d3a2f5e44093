// Package testserver starts real Redis and PostgreSQL servers for tests,
// from the binaries Debian's redis-server and postgresql packages install
// (.ci/install-deps). Each server listens on a free loopback port, keeps
// its data in a temporary folder and is stopped by the test's cleanup.
// Where a binary is missing the test is skipped with a loud message.
// PostfixMaster is the master.cf of the private Postfix instances that
// cmd/internal/interop starts and bench/relaybench measures against.
//
// PostgreSQL refuses to run as root; when the tests run as root the
// server runs as the "postgres" system user the package creates (or
// "nobody"), with its data folder handed to that user.
package testserver
