// Package audit writes the operator audit log and reads it back: one JSON
// object per line (JSON Lines), appended and fsync'd before the call
// returns, in a file only its owner can read. The lease operator writes an
// intent line before touching a store and a result line after, and refuses
// the action when the intent line cannot be written (fail closed). Read and
// ReadFile join each action's two lines into an Entry; Find looks one up by
// id, and RevertRequest builds the request that undoes a won one. The format
// and the rules of the trail are in docs/design.md §9.
//
// # Lines
//
// Every line has the fields id, time (RFC 3339, UTC), operator, host, store,
// key, action ("acquire", "takeover", "release", "revert"),
// revision_before, value_before, value_after, revision_after and outcome
// ("pending" on the intent line; "won", "lost", "changed", "error",
// "unknown" or "cancelled" on the result line), plus reason, reverts and
// error when they are not empty. reverts is on the lines of a revert: the id
// of the action it reverts.
//
// # Ids
//
// The id names one action: 12 lower-case hex digits (lease.NewAuditID),
// random, written on both its lines. Logs written before ids existed have
// lines without one; Read gives each such line a derived id of the same
// shape: the first 12 hex digits of the SHA-256 of the line's time,
// operator, host, store, key and action — each the string as the line holds
// it (time exactly as written), preceded by its length in bytes in decimal
// and a colon ("22:2024-06-10T06:13:20.5Z5:alice…"). An action's intent
// and result lines hold the same six fields, so they get the same id, and
// the id of an old line never changes. Lines are joined into entries by id;
// Find takes a whole id or a unique prefix of at least 4 characters.
//
// value_before and value_after say three things apart:
//
//   - a base64 string: the value (a lease record, or any bytes the key held);
//   - "" (the empty string): a zero-length value, that is a tombstone;
//   - null: no value at all. value_before is null when the key was absent or
//     was never read (every intent line); value_after is null when nothing
//     was written.
//
// The fields are always present, so a reader that expects them finds them;
// one that decodes base64 into bytes (Go's []byte does) gets nil for null and
// an empty slice for "".
//
// # The file
//
// The log must be a regular file (a symbolic link to one is fine). A FIFO, a
// device, a socket or a directory is refused with an error matching
// ErrNotRegular, without ever blocking: the path is examined before it is
// opened, and opened without waiting for a FIFO's reader, in case it changed
// in between. A log that others can read (group or other permission bits) is
// made 0600, with a warning, or refused with ErrReadableByOthers when its
// mode cannot be changed. A new log is created 0600, its new directories
// 0700.
//
// Each line is appended under an exclusive flock(2) of the file, so lines of
// concurrent leasectl processes never interleave. A write that fails part
// way (a full disk) is undone: the file is truncated back to its size before
// the line. A line cut short all the same (the process or the machine died
// mid-write) leaves a last line without its newline; the next append ends it
// with a newline first, so that the new line stands on its own, and warns.
// The torn line stays, as evidence: a reader skips lines that do not parse,
// and Read does.
//
// Warnings (a log made private, a torn line ended) go to the function given
// with WithWarn, for the caller to show: on stderr, in a status line.
package audit
