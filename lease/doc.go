// Package lease is leasectl's core: export leases that make exactly one
// replica of a fleet win each round of a periodic job, plus the operator
// actions (inspect, acquire, force takeover, release) built on the same
// algorithm.
//
// A lease is one key in any store with a create-only write and a
// compare-and-swap update (see package stores). Its value is a record, compact
// JSON such as
//
//	{"holder_id":"node-a","acquired_at_unix":1718000000,"expires_at_unix":1718000300}
//
// optionally followed by completed_cursor_hex and completed_at_unix once the
// round's artifact is published; a zero-length value is a tombstone. The
// format, the strict parsing rules (Decode) and the algorithm (TryAcquire)
// are wire-compatible with the Rust crate beyond-slipstream (library
// slipstream 0.5–0.7): a record written by either side is read, judged and
// taken over identically by the other.
//
// # Safety model
//
// A lease suppresses duplicate work; it is not a lock. There are no fencing
// tokens and no server-side TTL: the expiry is written inside the value and
// every reader judges it with its own wall clock, in whole seconds. A record
// is live while expires_at_unix > now and stealable otherwise — as are a
// tombstone and any value that does not parse ("unparseable means
// stealable"). A node whose clock runs ahead may therefore take over a lease
// before its holder's round is over, and a holder whose job overruns its ttl
// may find it taken over; both then run the job. This premature steal is
// tolerated by design: the job must be idempotent, and a completion that lost
// its round (Guard.Complete) writes nothing. What the algorithm does
// guarantee, given a store whose create and compare-and-swap are atomic, is
// at most one winner per write: every take-over is conditional on the exact
// revision that was judged stealable.
//
// Operators follow the same rule: every operator write is a compare-and-swap
// against the revision the operator was shown, and is recorded in an audit
// trail before it is attempted (fail closed).
package lease
