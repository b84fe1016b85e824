// Package crashtest holds the tests that run the real `releaseops serve` binary as a
// subprocess: crash loops (SIGKILL mid-load, restart, check that nothing acknowledged was
// lost or stored twice) and the security table (each bad input of SECURITY.md, tried against
// a running server). The package has no code of its own beyond what those tests share.
package crashtest
