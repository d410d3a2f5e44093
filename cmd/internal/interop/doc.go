// Package interop starts real third-party mail servers from Debian's
// packages (installed by .ci/install-deps) as private instances on
// loopback ports, for interoperability tests. A test whose peer cannot be
// had skips with a loud message naming the package to install.
package interop
