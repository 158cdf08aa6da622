// Package metrics exports the state of the configured stores' leases to
// Prometheus: a prometheus.Collector that `leasectl metrics` (a headless
// exporter) and `leasectl serve --metrics` serve at /metrics.
//
// # How it works
//
// Run follows each store in the background: through its watch
// (stores.AsWatcher) when it has one, keeping the latest entry of every
// key; a store without one is listed every poll interval instead
// (DefaultPollInterval, bounded by MinPollInterval and MaxPollInterval). A
// scrape costs no round trip to any store: Collect classifies every entry
// it holds with lease.Classify at the scrape's own clock reading, so a
// lease that expired a second ago counts as expired, and one expired for
// longer than its period as overdue, even though nothing was written to the
// store. A new snapshot (the first, after a watch reset, or a restarted
// watch) is gathered aside and replaces the published view only once it
// is complete, so counts never dip while a watch starts over; until then
// scrapes see the previous view and the store is reported not up. A
// store that cannot be opened, or whose watch ends or fails to start, is
// retried with back-off. A watch that reported an error and then says
// nothing for a poll interval is restarted: a NATS watch that resumed
// exactly is silent until the next change, and only a new snapshot proves
// the store answers again.
//
// # Series
//
// Every series has a store label, the configured store name.
//
//	leasectl_store_up{store}
//	    1 when the copy held is known current: the watch has delivered its
//	    snapshot and nothing but changes since (for a store without a
//	    watch: its last listing succeeded); 0 otherwise — not yet opened,
//	    not yet synced, or a watch error, reset or end since.
//	leasectl_store_data_age_seconds{store}
//	    The watch lag as this process can know it: the seconds since the
//	    data held was last known current. 0 while the watch is up (changes
//	    arrive as they happen); after a failure, the seconds since the
//	    failure was reported, growing until the store is current again; for
//	    a store without a watch, the seconds since the last successful
//	    listing began, so it saws between 0 and the poll interval; before
//	    the first snapshot, the seconds since the collector started.
//	leasectl_store_errors_total{store}
//	    Counter of failures following the store: opening it, starting or
//	    losing a watch, a watch error or reset, a failed listing.
//	leasectl_leases{store,state}
//	    Keys by state at the scrape's clock: tombstone, held, expired,
//	    corrupt (a watch never reports an absent key). Every state is
//	    exported, 0 included, so that rules never meet a missing series.
//	leasectl_leases_flagged{store,flag}
//	    Keys with each flag set at the scrape's clock: every flag
//	    lease.Flags names (lease.AllFlags: completed, skewed, overdue,
//	    unfinished), 0 included. The round-health flags come from
//	    lease.Assess, the one function the console and ls share; a key
//	    that now holds a tombstone or a corrupt value is judged, as
//	    lease.AssessHistory does, by the newest record this process saw it
//	    hold before, so a fleet that released its round and then stopped
//	    is overdue too.
//
// Per lease, only for stores whose config says metrics: {per_lease: true},
// each with a key label as well (the key as safetext.Key shows it: valid
// UTF-8, no control characters, and no two keys alike):
//
//	leasectl_lease_expires_timestamp_seconds{store,key}
//	leasectl_lease_acquired_timestamp_seconds{store,key}
//	    The record's expires_at_unix and acquired_at_unix; only while the
//	    key holds a valid record (held or expired).
//	leasectl_lease_last_completed_timestamp_seconds{store,key}
//	    The newest completed_at_unix seen for the key: in the current
//	    record, or in an earlier one this process saw (a new round's record
//	    carries no completion until it completes). Absent until one is
//	    seen: after a restart, a key whose current round is not completed
//	    has none until a round completes.
//	leasectl_lease_period_seconds{store,key}
//	    The period of the newest valid record seen (expires − acquired,
//	    capped at the skew cap), kept while the key is a tombstone or
//	    corrupt; absent for a period of 0.
//	leasectl_lease_overdue{store,key}
//	leasectl_lease_unfinished{store,key}
//	    1 when the flag is set at the scrape's clock, as counted in
//	    leasectl_leases_flagged, else 0.
//
// With these, "no completed export for two periods" is one rule:
//
//	time() - leasectl_lease_last_completed_timestamp_seconds > 2 * leasectl_lease_period_seconds
//
// # Cardinality
//
// The per-store series are a fixed handful per store (about a dozen),
// whatever the number of keys. The per-lease series are six per key: a
// fleet with 100,000 lease keys would make 600,000 series, more than most
// Prometheus servers should take from one target, and the client library
// takes about 20 s to serve them (BenchmarkScrape), past Prometheus's
// default scrape timeout, which would lose every series of the target.
// That is why they are opt-in per store, and bounded: a store holding more
// keys than the per-lease limit (DefaultPerLeaseLimit, 10,000 keys, about
// a second a scrape) exports its per-store series only and sets
//
//	leasectl_store_per_lease_limited{store}
//	    1 when the store's per-lease series are left out because it holds
//	    more keys than the limit; else 0 (per_lease stores only).
//
// Turn per-lease series on for stores with up to a few thousand keys, and
// alert on the per-store counts (leasectl_leases_flagged{flag="overdue"} >
// 0) for the rest. Label values never include holders, cursors or anything
// else that changes from round to round, so the series of a key live as
// long as the key.
//
// # Safety
//
// The collector only reads: it never writes to a store. What it exports
// is store names, counts and, per lease, key names and times: no values,
// holders or secrets. Keys come from the stores and are untrusted: they
// are cleaned as the console shows them.
package metrics
