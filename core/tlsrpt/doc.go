// Package tlsrpt is SMTP TLS Reporting (RFC 8460) for the sending side:
// it counts, per policy domain, the TLS sessions the smtp agent set up
// and the ones that failed with their result types, and once a period
// (a UTC day by default) sends each domain that asks for them an
// aggregate report.
//
// What it reads and writes: Store.Record takes sessions in memory;
// Store.Flush writes each period to Dir (spool/tlsrpt) as one JSON file
// by temp file, fsync and rename, every Service.FlushEvery and at
// shutdown, so a restart loses at most the last interval's counts. A
// period file that cannot be read is renamed to *.corrupt, never
// deleted.
//
// How reports go out: after a period ends, Service looks up
// _smtp._tls.<domain> (v=TLSRPTv1; rua=...) through the daemon's
// resolver, builds the report JSON (organization-name, date-range,
// contact-info, report-id, policies[]), gzips it and queues it through
// cleanup as a multipart/report mail with an application/tlsrpt+gzip
// part to the mailto: addresses, as bounces are queued; https: URIs get
// a POST. A temporary DNS or queue failure leaves the domain for the
// next round, for Service.GiveUpAfter; a domain with no record, or a
// bad one, gets nothing.
package tlsrpt
