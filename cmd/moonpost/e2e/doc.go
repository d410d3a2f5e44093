// Package e2e runs the real moonpost binary for end-to-end tests of the
// examples and of the scripted policy: it builds the binary once per
// test process (Main), copies an example folder into a temporary one
// with the test's ports and paths substituted (Setup), starts the daemon
// there, talks SMTP to it (Dial), and receives what it relays on
// loopback sinks (NewSink).
package e2e
