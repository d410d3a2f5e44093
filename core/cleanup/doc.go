// Package cleanup is the single door into the queue: every message, from
// smtpd, pickup (sendmail) or a local forward, passes here before it lands
// in incoming/ (or hold/).
//
// It normalises line endings (bare LF and bare CR become CRLF, so no
// end-of-data variant can smuggle a second message past a relay), parses the
// header leniently (the first line that is not a header starts the body),
// extracts recipients from To/Cc/Bcc for sendmail -t, calls the address
// rewriter on envelope and header addresses, the content filter (milters,
// core/milter) and the cleanup policy (hold,
// discard, reject, header edits), adds a missing Message-ID, Date and From,
// drops Bcc, and streams the result into a queue file. Around the policy
// sits message authentication (core/auth): inbound mail is checked
// (SPF, DKIM, DMARC, ARC; an Authentication-Results header) before it,
// and the final message is DKIM-signed (and an alias forward ARC-sealed)
// after it, the body then read twice through a spill buffer.
//
// Submit returns only after the file is committed (fsync); its error is a
// *dsn.Status for the client: 552 5.3.4 too big, 452 4.3.1 disk full,
// 451 4.3.0 on any internal or policy fault (a signature that cannot be
// made included), the policy's own code on a reject.
package cleanup
