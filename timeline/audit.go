package timeline

import "github.com/leasectl/leasectl/audit"

// ActionOf returns the part of an audit log entry a timeline needs.
func ActionOf(e audit.Entry) Action {
	return Action{
		ID: e.ID, Time: e.Time, Operator: e.Operator, Action: e.Action, Outcome: e.Outcome,
		Reason: e.Reason, RevisionAfter: e.RevisionAfter, ValueAfter: e.ValueAfter,
	}
}

// Actions returns the actions of entries on key in store, oldest first,
// as the audit log tells them.
func Actions(entries []audit.Entry, store, key string) []Action {
	f := audit.Filter{Store: store, Key: key}
	var out []Action
	for _, e := range entries {
		if f.Match(e) {
			out = append(out, ActionOf(e))
		}
	}
	return out
}
