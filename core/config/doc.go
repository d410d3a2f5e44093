// Package config reads moonpost's one configuration file (TOML), fills in
// Postfix-like defaults for everything left out, and validates the result
// with errors that name the offending key. An unknown key is an error, so
// a typo never silently leaves a default in force.
//
// With no file at all, Default gives the embedded configuration: a spool
// under the working directory, SMTP on 127.0.0.1:2525, no root needed.
package config
