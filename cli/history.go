package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/spf13/cobra"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/timeline"
)

// noHistoryNote is what history says on a store that keeps no history.
const noHistoryNote = "keeps no history of its values: only the audit log's actions and the current value are available (the console records what it observes while it runs)"

func newHistoryCmd(env Env, g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "history KEY [--store NAME] [-o table|json]",
		Short: "Show a lease's recent rounds as a timeline: winners, completions, gaps, operator actions",
		Long: `history draws the recent rounds of one lease: who won each round, when it
expired, whether and when it completed (and its cursor), where no round ran and
how many periods that missed, releases and abandons, corrupt writes, and the
operator actions the audit log holds for the key. Then a summary: rounds,
completion rate, missed periods, longest gap, wins per holder.

The rounds come from the store's history (etcd within compaction, at most 20
revisions; a NATS KV bucket's History setting) and from the values operators
wrote, from the audit log. Consul keeps no history: there, only the audit log
and the current value are available. Each row says its source.`,
		Args: args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			c, err := loadConfig(g)
			if err != nil {
				return err
			}
			s, err := oneStore(c, g)
			if err != nil {
				return err
			}
			key := a[0]
			actions, err := auditActions(c.AuditLog, s.Name, key)
			if err != nil {
				return err
			}
			o, err := open(cmd.Context(), c, s, g.timeout)
			if err != nil {
				return err
			}
			defer o.close()
			changes, kept, err := storeChanges(cmd.Context(), o.store, key, g.timeout)
			if err != nil {
				return fmt.Errorf("store %s: %w", s.Name, err)
			}
			now := env.now()
			tl := timeline.Build(timeline.Input{Key: key, Changes: changes, Actions: actions, Now: now, Thresholds: lease.DefaultThresholds()})
			if format == formatJSON {
				return writeHistoryJSON(env.Stdout, historyDoc(s.Name, kept, tl))
			}
			w := env.width()
			if w == 0 {
				w = defaultWidth
			}
			if !kept {
				note := fmt.Sprintf("note: store %s (%s) %s", safetext.Clean(s.Name), safetext.Clean(s.Kind), noHistoryNote)
				fmt.Fprintln(env.Stdout, ansi.Wordwrap(note, w, ""))
			}
			_, err = fmt.Fprintln(env.Stdout, timeline.Render(tl, w, now, timeline.Styles{}))
			return err
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", formatTable, "output format: table or json")
	return cmd
}

// storeChanges reads what the store keeps of key: its history when it has
// one (kept), else its current value. A key the store holds nothing of is
// no changes, not an error.
func storeChanges(ctx context.Context, s stores.Store, key string, timeout time.Duration) (changes []timeline.Change, kept bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var entries []stores.Entry
	if h, ok := stores.AsHistorian(s); ok {
		kept = true
		entries, err = h.History(ctx, key)
	} else {
		var e stores.Entry
		e, err = s.Get(ctx, key)
		entries = []stores.Entry{e}
	}
	switch {
	case errors.Is(err, stores.ErrNotFound):
		return nil, kept, nil
	case err != nil:
		return nil, kept, err
	}
	for _, e := range entries {
		changes = append(changes, timeline.Change{Entry: e, Source: timeline.FromStore})
	}
	return changes, kept, nil
}

// auditActions reads the audit log's actions on key in store, oldest
// first; a missing log is no actions.
func auditActions(path, store, key string) ([]timeline.Action, error) {
	entries, err := audit.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return timeline.Actions(entries, store, key), nil
}

// historyJSON is history -o json.
type historyJSON struct {
	Store   string `json:"store"`
	Key     string `json:"key"`
	NowUnix int64  `json:"now_unix"`
	// HistoryKept is false for a store that keeps no history; Note then
	// says what is available.
	HistoryKept bool        `json:"history_kept"`
	Note        string      `json:"note,omitempty"`
	Sources     []string    `json:"sources"`
	Summary     summaryJSON `json:"summary"`
	Current     currentJSON `json:"current"`
	Rounds      []roundJSON `json:"rounds"`
	Gaps        []gapJSON   `json:"gaps"`
	Events      []eventJSON `json:"events"`
}

type summaryJSON struct {
	Rounds            int            `json:"rounds"`
	Completed         int            `json:"completed"`
	Unfinished        int            `json:"unfinished"`
	Running           int            `json:"running"`
	OperatorRounds    int            `json:"operator_rounds"`
	CompletionRate    float64        `json:"completion_rate"`
	MissedPeriods     int            `json:"missed_periods"`
	LongestGapSeconds int64          `json:"longest_gap_seconds"`
	Wins              map[string]int `json:"wins"`
}

type currentJSON struct {
	State             string   `json:"state"`
	Flags             []string `json:"flags"`
	Overdue           bool     `json:"overdue"`
	Unfinished        bool     `json:"unfinished"`
	ExpiredForSeconds int64    `json:"expired_for_seconds,omitempty"`
	PeriodSeconds     int64    `json:"period_seconds,omitempty"`
}

type actionJSON struct {
	ID       string `json:"id,omitempty"`
	TimeUnix int64  `json:"time_unix"`
	Operator string `json:"operator"`
	Action   string `json:"action"`
	Outcome  string `json:"outcome"`
	Reason   string `json:"reason,omitempty"`
	Revision uint64 `json:"revision,omitempty"`
}

type roundJSON struct {
	HolderID           string      `json:"holder_id"`
	AcquiredAtUnix     int64       `json:"acquired_at_unix"`
	ExpiresAtUnix      int64       `json:"expires_at_unix"`
	Completed          bool        `json:"completed"`
	CompletedAtUnix    *int64      `json:"completed_at_unix,omitempty"`
	CompletedCursorHex string      `json:"completed_cursor_hex,omitempty"`
	Unfinished         bool        `json:"unfinished"`
	Ending             string      `json:"ending"`
	EndUnix            int64       `json:"end_unix"`
	EndEstimated       bool        `json:"end_estimated,omitempty"`
	TakenOverBy        string      `json:"taken_over_by,omitempty"`
	Skewed             bool        `json:"skewed,omitempty"`
	FirstRevision      uint64      `json:"first_revision"`
	LastRevision       uint64      `json:"last_revision"`
	Action             *actionJSON `json:"action,omitempty"`
	EndAction          *actionJSON `json:"end_action,omitempty"`
	Source             string      `json:"source"`
}

type gapJSON struct {
	FromUnix      int64 `json:"from_unix"`
	ToUnix        int64 `json:"to_unix"`
	Seconds       int64 `json:"seconds"`
	PeriodSeconds int64 `json:"period_seconds"`
	MissedPeriods int   `json:"missed_periods"`
	Trailing      bool  `json:"trailing,omitempty"`
	FromEstimated bool  `json:"from_estimated,omitempty"`
}

type eventJSON struct {
	Kind      string      `json:"kind"`
	AtUnix    int64       `json:"at_unix"`
	Estimated bool        `json:"estimated,omitempty"`
	Revision  uint64      `json:"revision,omitempty"`
	Reason    string      `json:"reason,omitempty"`
	Action    *actionJSON `json:"action,omitempty"`
	Source    string      `json:"source"`
}

func actionDoc(a *timeline.Action) *actionJSON {
	if a == nil {
		return nil
	}
	return &actionJSON{ID: a.ID, TimeUnix: a.Time.Unix(), Operator: a.Operator, Action: a.Action.String(),
		Outcome: a.Outcome.String(), Reason: a.Reason, Revision: a.RevisionAfter}
}

// historyDoc is tl as history -o json prints it.
func historyDoc(store string, kept bool, tl timeline.Timeline) historyJSON {
	s := tl.Summary
	d := historyJSON{
		Store: store, Key: tl.Key, NowUnix: tl.Now.Unix(), HistoryKept: kept,
		Sources: []string{}, Rounds: []roundJSON{}, Gaps: []gapJSON{}, Events: []eventJSON{},
		Summary: summaryJSON{
			Rounds: s.Rounds, Completed: s.Completed, Unfinished: s.Unfinished, Running: s.Running,
			OperatorRounds: s.OperatorRounds, CompletionRate: s.CompletionRate, MissedPeriods: s.MissedPeriods,
			LongestGapSeconds: int64(s.LongestGap / time.Second), Wins: map[string]int{},
		},
		Current: currentJSON{State: tl.Current.State.String(), Flags: tl.Current.Flags.Strings(),
			Overdue: tl.Health.Flags.Has(lease.Overdue), Unfinished: tl.Health.Flags.Has(lease.Unfinished)},
	}
	if !kept {
		d.Note = noHistoryNote
	}
	if tl.Health.ExpiredFor > 0 {
		d.Current.ExpiredForSeconds = int64(tl.Health.ExpiredFor / time.Second)
		d.Current.PeriodSeconds = int64(tl.Health.Period / time.Second)
	}
	for _, src := range tl.Sources {
		d.Sources = append(d.Sources, string(src))
	}
	for _, w := range s.Wins {
		d.Summary.Wins[w.Holder] = w.Rounds
	}
	for _, r := range tl.Rounds {
		rj := roundJSON{
			HolderID: r.Holder, AcquiredAtUnix: r.Acquired.Unix(), ExpiresAtUnix: r.Expires.Unix(),
			Completed: r.Completed, CompletedCursorHex: r.Cursor, Unfinished: r.Unfinished() && !r.ByOperator(),
			Ending: r.Ending.String(), EndUnix: r.End.Unix(), EndEstimated: r.EndApprox, TakenOverBy: r.TakenOverBy,
			Skewed: r.Skewed, FirstRevision: r.FirstRevision, LastRevision: r.LastRevision,
			Action: actionDoc(r.Action), EndAction: actionDoc(r.EndAction), Source: r.Sources.String(),
		}
		if !r.CompletedAt.IsZero() {
			at := r.CompletedAt.Unix()
			rj.CompletedAtUnix = &at
		}
		d.Rounds = append(d.Rounds, rj)
	}
	for _, g := range tl.Gaps {
		d.Gaps = append(d.Gaps, gapJSON{
			FromUnix: g.From.Unix(), ToUnix: g.To.Unix(), Seconds: int64(g.Len() / time.Second),
			PeriodSeconds: int64(g.Period / time.Second), MissedPeriods: g.Missed, Trailing: g.Trailing, FromEstimated: g.Approx,
		})
	}
	for _, ev := range tl.Events {
		d.Events = append(d.Events, eventJSON{
			Kind: ev.Kind.String(), AtUnix: ev.At.Unix(), Estimated: ev.Approx, Revision: ev.Revision,
			Reason: ev.Reason, Action: actionDoc(ev.Action), Source: ev.Sources.String(),
		})
	}
	return d
}

// writeHistoryJSON prints d indented, terminal-safe.
func writeHistoryJSON(w io.Writer, d historyJSON) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	_, err = w.Write(append(safetext.JSON(b), '\n'))
	return err
}
