package timeline

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

// Source says where a row of a timeline came from.
type Source string

// The sources of a timeline's rows.
const (
	// FromStore is the store's own history (stores.Historian) or its
	// current value.
	FromStore Source = "store"
	// FromObserved is a change this process's watch delivered, with the
	// time it was seen.
	FromObserved Source = "observed"
	// FromAudit is an operator action from the audit log.
	FromAudit Source = "audit"
)

// sourceOrder ranks sources for a stable order when a row has several.
func sourceOrder(s Source) int {
	switch s {
	case FromStore:
		return 0
	case FromObserved:
		return 1
	case FromAudit:
		return 2
	}
	return 3
}

// Sources is the set of sources a row came from, in the order store,
// observed, audit.
type Sources []Source

// String joins the sources with "+": "store+audit".
func (s Sources) String() string {
	parts := make([]string, len(s))
	for i, src := range s {
		parts[i] = string(src)
	}
	return strings.Join(parts, "+")
}

// with returns s with src added, keeping the order.
func (s Sources) with(more ...Source) Sources {
	out := slices.Clone(s)
	for _, src := range more {
		if !slices.Contains(out, src) {
			out = append(out, src)
		}
	}
	slices.SortFunc(out, func(a, b Source) int { return cmp.Compare(sourceOrder(a), sourceOrder(b)) })
	return out
}

// Change is one value a key held: a write the store keeps in its history,
// one a watch delivered, or one an operator's action wrote.
type Change struct {
	// Entry is the key's value and the revision of the write.
	Entry stores.Entry
	// At is when the change was seen (observed) or made (audited); zero
	// when unknown, as for a store's history.
	At time.Time
	// Source says where the change came from.
	Source Source
}

// Action is an operator action on the key, as the audit log tells it: the
// part of audit.Entry a timeline needs (FromAudit converts one).
type Action struct {
	// ID is the action's id in the audit log.
	ID string
	// Time is the operator's clock when the action began.
	Time time.Time
	// Operator is the operator's name.
	Operator string
	// Action is what the operator did.
	Action lease.Action
	// Outcome is how the action ended; lease.OutcomePending when the log
	// has no result.
	Outcome lease.Outcome
	// Reason is the operator's reason.
	Reason string
	// RevisionAfter is the revision the action wrote (0: none).
	RevisionAfter uint64
	// ValueAfter is what the action wrote: nil when nothing, zero-length
	// for a tombstone.
	ValueAfter []byte
}

// Input is what Build works from.
type Input struct {
	// Key is the lease key.
	Key string
	// Changes are the key's values in any order and from any sources; one
	// revision given by several sources is one change.
	Changes []Change
	// Actions are the audit log's operator actions on the key.
	Actions []Action
	// Now is the viewer's clock: the end of the window.
	Now time.Time
	// Thresholds cap the period (MaxPeriod) and judge the current record.
	Thresholds lease.Thresholds
}

// Ending says how a round ended.
type Ending int

// How rounds end. The zero Ending is none.
const (
	// Running means the round's lease is still live.
	Running Ending = iota + 1
	// Expired means the round ran to its expiry and nothing replaced it
	// before.
	Expired
	// TakenOver means a new round replaced it before its expiry: an
	// operator's takeover, or a replica whose clock ran ahead.
	TakenOver
	// Released means an operator's release wrote a tombstone over it.
	Released
	// Abandoned means a tombstone that no audited release wrote replaced it:
	// the holder's Abandon.
	Abandoned
	// Overwritten means a value that is not a record replaced it.
	Overwritten
	// Reverted means an operator's revert wrote back the round it had
	// replaced.
	Reverted
)

var endingNames = [...]string{
	Running: "running", Expired: "expired", TakenOver: "taken over",
	Released: "released", Abandoned: "abandoned", Overwritten: "overwritten", Reverted: "reverted",
}

// String returns the ending's lower-case words.
func (e Ending) String() string {
	if e >= Running && e <= Reverted {
		return endingNames[e]
	}
	return "unknown"
}

// Round is one won round: one record, however many revisions wrote it.
type Round struct {
	// Holder is the record's holder id (untrusted: clean it before showing).
	Holder string
	// Acquired and Expires are the record's times.
	Acquired, Expires time.Time
	// Period is Expires − Acquired, capped at Thresholds.MaxPeriod; 0 when
	// the record expires before it was acquired.
	Period time.Duration
	// Completed is set when the record carries a completion cursor.
	Completed bool
	// CompletedAt is completed_at_unix; zero when not recorded.
	CompletedAt time.Time
	// Cursor is the completion cursor in hex (untrusted).
	Cursor string
	// FirstRevision and LastRevision are the revisions that wrote it.
	FirstRevision, LastRevision uint64
	// End is when the round stopped holding the lease, as far as known:
	// its expiry, the start of the round that took it over, the time its
	// tombstone or corrupt write was seen; for a running round, now.
	End time.Time
	// EndApprox is set when End is an estimate: a tombstone or corrupt
	// write whose time nobody saw, placed at the expiry or the next round.
	EndApprox bool
	// Ending says how it ended.
	Ending Ending
	// TakenOverBy is the holder of the round that took it over (TakenOver).
	TakenOverBy string
	// Action is the operator action that wrote the round, when the audit
	// log has it.
	Action *Action
	// EndAction is the operator action that ended it (a release, or a
	// takeover by the next round).
	EndAction *Action
	// Resumed is set when a revert wrote the round's record back after
	// another value had replaced it: the round went on.
	Resumed bool
	// Skewed is set when the record looks like it came from a bad clock.
	Skewed bool
	// Sources are where its revisions came from.
	Sources Sources
}

// Unfinished reports whether the round is over without a completion.
func (r Round) Unfinished() bool { return r.Ending != Running && !r.Completed }

// ByOperator reports whether an operator holds the round.
func (r Round) ByOperator() bool { return strings.HasPrefix(r.Holder, lease.OperatorHolderPrefix) }

// Gap is a stretch of time in which no round ran.
type Gap struct {
	// From is the end of the round before; To the start of the next, or
	// now for the trailing gap.
	From, To time.Time
	// Period is the period of the round before (capped).
	Period time.Duration
	// Missed is how many whole periods fit in the gap: rounds the fleet
	// did not run.
	Missed int
	// Trailing is set for the gap that lasts until now.
	Trailing bool
	// Approx is set when From is an estimate (see Round.EndApprox).
	Approx bool
}

// Len returns the gap's length.
func (g Gap) Len() time.Duration { return g.To.Sub(g.From) }

// EventKind says what an Event reports.
type EventKind int

// The kinds of events.
const (
	// EventTombstone is a zero-length value: an abandon or a release.
	EventTombstone EventKind = iota + 1
	// EventCorrupt is a value that is not a valid record.
	EventCorrupt
	// EventAction is an operator action from the audit log.
	EventAction
)

// String returns the kind's lower-case name.
func (k EventKind) String() string {
	switch k {
	case EventTombstone:
		return "tombstone"
	case EventCorrupt:
		return "corrupt"
	case EventAction:
		return "action"
	}
	return "unknown"
}

// Event is something that happened to the key besides a round: a tombstone,
// a corrupt write, an operator's action.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// At is when; Approx is set when it is an estimate.
	At     time.Time
	Approx bool
	// Revision is the write's revision (0: none, e.g. a refused action).
	Revision uint64
	// Reason says why a value is corrupt (untrusted).
	Reason string
	// Action is the operator action, for EventAction and for a tombstone
	// an audited release wrote.
	Action *Action
	// Written is set for an action that wrote a value the timeline shows
	// as a round or another event.
	Written bool
	// Sources are where the event came from.
	Sources Sources
}

// Win is how many rounds one holder won.
type Win struct {
	// Holder is the holder id (untrusted).
	Holder string
	// Rounds is how many rounds it won in the window.
	Rounds int
}

// Summary condenses a timeline.
type Summary struct {
	// Rounds is how many rounds the window holds, operators' included.
	// Running is the round still live and not completed, if any;
	// Completed and Unfinished split the replicas' other rounds (an
	// operator's hold has nothing to complete and counts in neither).
	Rounds, Completed, Unfinished, Running int
	// CompletionRate is Completed / (Completed + Unfinished); 0 when both
	// are 0.
	CompletionRate float64
	// MissedPeriods is the sum of the gaps' missed periods.
	MissedPeriods int
	// LongestGap is the longest gap, the trailing one included.
	LongestGap time.Duration
	// OperatorRounds is how many rounds operators took over or acquired.
	OperatorRounds int
	// Wins lists each holder's rounds, most first.
	Wins []Win
}

// Timeline is what is known of one key's recent rounds.
type Timeline struct {
	// Key is the lease key.
	Key string
	// From is the start of the window (the first round or event); Now its
	// end.
	From, Now time.Time
	// Rounds are oldest first.
	Rounds []Round
	// Gaps are oldest first; the trailing gap, if any, is last.
	Gaps []Gap
	// Events are oldest first.
	Events []Event
	// Summary condenses the rounds and gaps.
	Summary Summary
	// Current is the latest change classified at Now; its State is
	// lease.Absent when there is none.
	Current lease.Status
	// Health is the key's round health (lease.AssessHistory of its values):
	// overdue once its newest record has been expired for longer than one
	// period, unfinished when the record it holds expired uncompleted.
	Health lease.Health
	// Sources are the sources the timeline was built from.
	Sources Sources
}

// unixTime converts lease seconds to a time, clamped to what time.Time can
// hold.
func unixTime(s uint64) time.Time {
	const maxUnix = 1<<63 - 1 - (1 << 40) // far beyond year 9999, safe to add durations to
	return time.Unix(int64(min(s, maxUnix)), 0).UTC()
}

// period returns a record's period capped at th.MaxPeriod; 0 when it
// expires before it was acquired.
func period(r lease.Record, th lease.Thresholds) time.Duration {
	if r.ExpiresAtUnix <= r.AcquiredAtUnix {
		return 0
	}
	d := r.ExpiresAtUnix - r.AcquiredAtUnix
	maxSecs := uint64(th.MaxPeriod / time.Second)
	return time.Duration(min(d, maxSecs)) * time.Second
}

// merged is one revision with everything its sources said of it.
type merged struct {
	entry   stores.Entry
	at      time.Time
	sources Sources
	action  *Action
}

// Build builds the timeline of in.Key from its changes and actions.
func Build(in Input) Timeline {
	tl := Timeline{Key: in.Key, Now: in.Now, Current: lease.Status{State: lease.Absent}}
	revs := mergeChanges(in)
	actions := slices.Clone(in.Actions)
	slices.SortStableFunc(actions, func(a, b Action) int { return a.Time.Compare(b.Time) })

	var open *Round // the round the last record belongs to
	type ident struct {
		holder   string
		acq, exp uint64
	}
	known := map[ident]int{} // each round's index, to find one a revert writes back
	closeOpen := func(ending Ending, at time.Time, approx bool) {
		if open == nil {
			return
		}
		open.Ending = ending
		open.End, open.EndApprox = at, approx
		if at.IsZero() || at.After(open.Expires) {
			open.End = open.Expires
		}
		open = nil
	}
	for i := range revs {
		m := &revs[i]
		tl.Sources = tl.Sources.with(m.sources...)
		st := lease.Classify(m.entry.Value, in.Now, in.Thresholds)
		switch st.State {
		case lease.Tombstone, lease.Corrupt:
			ev := Event{Kind: EventTombstone, At: m.at, Revision: m.entry.Revision, Action: m.action, Sources: m.sources}
			ending := Abandoned
			if m.action != nil && m.action.Action == lease.ActionRelease {
				ending = Released
			}
			if st.State == lease.Corrupt {
				ev.Kind, ev.Reason, ending = EventCorrupt, st.Reason, Overwritten
			}
			if ev.At.IsZero() {
				ev.Approx = true // placed once the next round is known
			}
			if open != nil {
				if m.action != nil && ending == Released {
					open.EndAction = m.action
				}
				closeOpen(ending, m.at, m.at.IsZero())
			}
			tl.Events = append(tl.Events, ev)
			continue
		}
		r := st.Record
		acq, exp := unixTime(r.AcquiredAtUnix), unixTime(r.ExpiresAtUnix)
		if open != nil && open.Holder == r.HolderID && open.Acquired.Equal(acq) && open.Expires.Equal(exp) {
			// The same record rewritten: the completion.
			fill(open, r, st)
			open.LastRevision = m.entry.Revision
			open.Sources = open.Sources.with(m.sources...)
			continue
		}
		id := ident{r.HolderID, r.AcquiredAtUnix, r.ExpiresAtUnix}
		if i, ok := known[id]; ok {
			// An earlier round's record again: a revert wrote it back.
			if open != nil {
				at, approx := m.at, m.at.IsZero()
				if approx {
					at = minTime(open.Expires, in.Now)
				}
				open.EndAction = m.action
				closeOpen(Reverted, at, approx)
			}
			open = &tl.Rounds[i]
			open.Ending, open.TakenOverBy, open.EndAction, open.Resumed = 0, "", nil, true
			open.LastRevision = m.entry.Revision
			open.Sources = open.Sources.with(m.sources...)
			fill(open, r, st)
			continue
		}
		if open != nil {
			if acq.Before(open.Expires) {
				open.TakenOverBy = r.HolderID
				open.EndAction = m.action
				closeOpen(TakenOver, acq, false)
			} else {
				closeOpen(Expired, open.Expires, false)
			}
		}
		tl.Rounds = append(tl.Rounds, Round{
			Holder: r.HolderID, Acquired: acq, Expires: exp, Period: period(r, in.Thresholds),
			FirstRevision: m.entry.Revision, LastRevision: m.entry.Revision,
			Action: m.action, Sources: m.sources,
		})
		open = &tl.Rounds[len(tl.Rounds)-1]
		known[id] = len(tl.Rounds) - 1
		fill(open, r, st)
	}
	if open != nil {
		if lease.UnixSeconds(in.Now) < lease.UnixSeconds(open.Expires) {
			open.Ending, open.End = Running, in.Now
		} else {
			closeOpen(Expired, open.Expires, false)
		}
	}
	placeEvents(&tl)
	for _, a := range actions {
		tl.Events = append(tl.Events, Event{Kind: EventAction, At: a.Time, Revision: a.RevisionAfter, Action: &a, Sources: Sources{FromAudit},
			Written: a.Outcome == lease.OutcomeWon && a.RevisionAfter != 0 && a.ValueAfter != nil})
	}
	if len(actions) > 0 {
		tl.Sources = tl.Sources.with(FromAudit)
	}
	slices.SortStableFunc(tl.Events, func(a, b Event) int { return a.At.Compare(b.At) })
	tl.Gaps = gaps(tl.Rounds, in.Now)
	tl.From = windowStart(tl, in)
	tl.Summary = summarize(tl)
	if len(revs) > 0 {
		last := revs[len(revs)-1]
		tl.Current = lease.Classify(last.entry.Value, in.Now, in.Thresholds)
		values := make([][]byte, len(revs))
		for i, m := range revs {
			values[i] = m.entry.Value
		}
		tl.Health = lease.AssessHistory(values, in.Now, in.Thresholds)
	}
	return tl
}

// fill copies a record's completion and flags into a round.
func fill(rd *Round, r lease.Record, st lease.Status) {
	rd.Completed = r.Completed()
	rd.Cursor = r.CompletedCursorHex
	if r.CompletedAtUnix != nil {
		rd.CompletedAt = unixTime(*r.CompletedAtUnix)
	}
	rd.Skewed = st.Flags.Has(lease.Skewed)
}

// mergeChanges joins the changes and the won actions' writes by revision,
// oldest first.
func mergeChanges(in Input) []merged {
	byRev := map[uint64]*merged{}
	var order []uint64
	add := func(e stores.Entry, at time.Time, src Source) *merged {
		m, ok := byRev[e.Revision]
		if !ok {
			m = &merged{entry: e}
			byRev[e.Revision] = m
			order = append(order, e.Revision)
		}
		if m.at.IsZero() && !at.IsZero() && src != FromAudit {
			m.at = at
		}
		m.sources = m.sources.with(src)
		return m
	}
	for _, c := range in.Changes {
		if c.Entry.Revision == 0 {
			continue // absent: not a write
		}
		add(c.Entry, c.At, c.Source)
	}
	for i := range in.Actions {
		a := &in.Actions[i]
		if a.Outcome != lease.OutcomeWon || a.RevisionAfter == 0 || a.ValueAfter == nil {
			continue
		}
		m := add(stores.Entry{Key: in.Key, Value: a.ValueAfter, Revision: a.RevisionAfter}, time.Time{}, FromAudit)
		m.action = a
		if m.at.IsZero() {
			m.at = a.Time // the operator's clock when the action began: close enough
		}
	}
	out := make([]merged, 0, len(order))
	for _, rev := range order {
		out = append(out, *byRev[rev])
	}
	slices.SortFunc(out, func(a, b merged) int { return cmp.Compare(a.entry.Revision, b.entry.Revision) })
	return out
}

// placeEvents gives the tombstones and corrupt writes nobody saw a time a
// place: a round closed by one ends at its expiry or at the next round,
// whichever came first, and the write is placed there; one that closed no
// round is placed at the next round's start, else at the end of the round
// before it (the last time known before it), else at now.
func placeEvents(tl *Timeline) {
	for i := range tl.Rounds {
		r := &tl.Rounds[i]
		if r.EndApprox && i+1 < len(tl.Rounds) && tl.Rounds[i+1].Acquired.Before(r.End) {
			r.End = tl.Rounds[i+1].Acquired
		}
	}
	for i := range tl.Events {
		ev := &tl.Events[i]
		if !ev.Approx {
			continue
		}
		var before, after *Round
		for j := range tl.Rounds {
			r := &tl.Rounds[j]
			if r.LastRevision < ev.Revision {
				before = r
			} else if after == nil && r.FirstRevision > ev.Revision {
				after = r
			}
		}
		switch {
		case before != nil && before.EndApprox && before.Ending != TakenOver:
			ev.At = before.End
		case after != nil:
			ev.At = after.Acquired
		case before != nil:
			ev.At = before.End
		default:
			ev.At = tl.Now
		}
	}
}

// gaps finds the stretches between rounds, and after the last one, in
// which no round ran: a sweep over the rounds in the order they started,
// so that rounds that overlap (a takeover, a revert) leave no gap between
// them. A gap's period is that of the round that ran last before it.
func gaps(rounds []Round, now time.Time) []Gap {
	order := make([]int, len(rounds))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return rounds[a].Acquired.Compare(rounds[b].Acquired) })
	var out []Gap
	gap := func(r *Round, to time.Time, trailing bool) {
		if !to.After(r.End) {
			return
		}
		g := Gap{From: r.End, To: to, Period: r.Period, Trailing: trailing, Approx: r.EndApprox}
		if r.Period > 0 {
			g.Missed = int(g.Len() / r.Period)
		}
		out = append(out, g)
	}
	var last *Round // the round that covers the latest time so far
	for _, i := range order {
		r := &rounds[i]
		if last != nil {
			gap(last, r.Acquired, false)
		}
		if last == nil || !r.End.Before(last.End) {
			last = r
		}
	}
	if last != nil && last.Ending != Running {
		gap(last, now, true)
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// windowStart is the earliest time the timeline shows: its first round or
// event, never after now.
func windowStart(tl Timeline, in Input) time.Time {
	from := in.Now
	for _, r := range tl.Rounds {
		if r.Acquired.Before(from) && !r.Skewed {
			from = r.Acquired
		}
	}
	for _, ev := range tl.Events {
		if ev.At.Before(from) {
			from = ev.At
		}
	}
	return from
}

func summarize(tl Timeline) Summary {
	var s Summary
	wins := map[string]int{}
	over := 0
	for _, r := range tl.Rounds {
		s.Rounds++
		wins[r.Holder]++
		switch {
		case r.Ending == Running && !r.Completed:
			s.Running++
		case r.ByOperator():
			// An operator's hold pauses the fleet; it has nothing to
			// complete, so it counts in neither the completed nor the
			// unfinished rounds.
		case r.Completed:
			s.Completed++
			over++
		default:
			s.Unfinished++
			over++
		}
		if r.ByOperator() {
			s.OperatorRounds++
		}
	}
	if over > 0 {
		s.CompletionRate = float64(s.Completed) / float64(over)
	}
	for _, g := range tl.Gaps {
		s.MissedPeriods += g.Missed
		s.LongestGap = max(s.LongestGap, g.Len())
	}
	for h, n := range wins {
		s.Wins = append(s.Wins, Win{Holder: h, Rounds: n})
	}
	slices.SortFunc(s.Wins, func(a, b Win) int {
		if c := cmp.Compare(b.Rounds, a.Rounds); c != 0 {
			return c
		}
		return strings.Compare(a.Holder, b.Holder)
	})
	return s
}
