// Package timeline turns what is known of one lease key's past into rounds,
// gaps and a summary, and draws them as a time strip: who won each round,
// when it expired, whether it completed, where no round ran and how many
// periods that missed, and what operators did.
//
// It does no I/O. Its input is a key's changes, oldest first, each saying
// where it came from (Source): the store's own history (stores.Historian:
// etcd revisions within compaction, a NATS KV bucket's History), what a
// watch in this process observed (Recorder, for stores that keep no history,
// such as Consul), and the values operators wrote as the audit log tells
// them. A store revision says nothing of when it was written: a round's
// times come from its record (acquired_at_unix, completed_at_unix), and a
// tombstone's or a corrupt write's time is known only when it was observed
// or audited; otherwise it is estimated and marked as such. The health of
// the key now is lease.AssessHistory's, the rule every view shares.
//
// Rules (the periods as in docs/design.md §4):
//   - One round is one record: the completion rewrites the same record (same
//     holder, acquired_at and expires_at), so its revisions are one round.
//   - A round ends at its expiry, at the tombstone that released or
//     abandoned it, at the corrupt write that replaced it, or when a new
//     round takes it over before its expiry. A revert that writes an
//     earlier round's record back resumes that round; the round it
//     replaced ends "reverted".
//   - A gap is time between the end of one round and the start of the next
//     (or now) in which no round ran; it misses floor(gap / period) periods,
//     the period being that of the round before (expires − acquired, capped
//     at Thresholds.MaxPeriod).
//   - The completion rate counts the replicas' rounds that are over (or
//     completed); an operator's hold has nothing to complete.
package timeline
