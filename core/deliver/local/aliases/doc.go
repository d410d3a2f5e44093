// Package aliases reads aliases(5) files, the default alias source of
// the local delivery agent when no policy script answers.
//
// Syntax, as newaliases reads it:
//
//	# comment
//	postmaster: root
//	root:       root, admin@example.org
//	"a b":      x
//	list:       :include:/etc/mail/list.txt,
//	            "|/usr/bin/filter -x", /var/spool/archive
//
// A line starting with white space continues the previous entry; blank
// and comment lines are skipped. Names are matched case-insensitively.
// A value may be quoted so that it can hold commas or spaces; the quotes
// are removed.
//
// Reads: the alias file, again whenever its modification time, size or
// inode change (checked with one stat per lookup). Writes: nothing.
//
// Failure: a syntax error names the file and line. LoadAliasFile fails on
// it; a reload that fails keeps the previous table in service and logs
// the error, so a half-edited file never makes aliases vanish.
package aliases
