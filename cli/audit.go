package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
	"github.com/leasectl/leasectl/timetext"
	"github.com/leasectl/leasectl/webapi"
)

// auditFlags are the audit command's filters and format.
type auditFlags struct {
	key, operator, outcome string
	since                  time.Duration
	format                 string
}

func newAuditCmd(env Env, g *globals) *cobra.Command {
	var f auditFlags
	cmd := &cobra.Command{
		Use:   "audit [--store NAME]... [--key KEY] [--operator NAME] [--outcome O] [--since DURATION] [-o table|json]",
		Short: "List the operator actions in the audit log, newest first",
		Long: `audit lists the operator actions recorded in the audit log (audit_log in the
config, the log acquire, takeover, release and revert append to), newest first:
each action's id, when and by whom, on which store and key, what it did, how it
ended and why. An action whose result line is missing shows as pending: the
process died, or it is still running.

Filters: --store (repeatable) and --key, --operator, --outcome (pending, won,
lost, changed, error, unknown, cancelled) select exact values; --since 2h keeps
the actions of the last two hours. Entries of stores no longer configured are
listed too.

-o json prints an array, like ls -o json, of objects with id, time, operator,
host, store, key, action, reason, outcome and, when they apply, reverts, seen,
revision_before, revision_after, value_before and value_after (base64 as in the
log: null for no value, "" for a tombstone) and error.

Undo a won action with leasectl revert ID.`,
		Args: args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAudit(env, g, f)
		},
	}
	cmd.Flags().StringVar(&f.key, "key", "", "only the actions on this key")
	cmd.Flags().StringVar(&f.operator, "operator", "", "only the actions of this operator")
	cmd.Flags().StringVar(&f.outcome, "outcome", "", "only the actions that ended so: pending, won, lost, changed, error, unknown or cancelled")
	cmd.Flags().DurationVar(&f.since, "since", 0, "only the actions of the last DURATION (e.g. 2h)")
	cmd.Flags().StringVarP(&f.format, "output", "o", formatTable, "output format: table or json")
	return cmd
}

// runAudit prints the audit log's entries that f and --store select.
func runAudit(env Env, g *globals, f auditFlags) error {
	if err := checkFormat(f.format); err != nil {
		return err
	}
	now := env.now()
	filter := audit.Filter{Key: f.key, Operator: f.operator}
	if f.outcome != "" {
		if err := filter.Outcome.UnmarshalText([]byte(f.outcome)); err != nil {
			return usageErrorf("--outcome %q: want pending, won, lost, changed, error, unknown or cancelled", f.outcome)
		}
	}
	switch {
	case f.since < 0:
		return usageErrorf("--since %v: want a positive duration (e.g. --since 2h)", f.since)
	case f.since > 0:
		filter.Since = now.Add(-f.since)
	}
	c, err := loadConfig(g)
	if err != nil {
		return err
	}
	entries, err := audit.ReadFile(c.AuditLog)
	if err != nil {
		return err
	}
	var sel []audit.Entry
	for _, e := range entries {
		if filter.Match(e) && (len(g.stores) == 0 || slices.Contains(g.stores, e.Store)) {
			sel = append(sel, e)
		}
	}
	newestFirst(sel)
	if f.format == formatJSON {
		return writeAuditJSON(env.Stdout, sel)
	}
	return writeAuditTable(env.Stdout, sel, now, env.width())
}

// newestFirst orders entries, oldest first as the log holds them, newest
// first: by time, and the later in the log first when the times are equal
// (or clocks of different hosts disagree by nothing).
func newestFirst(entries []audit.Entry) {
	slices.Reverse(entries)
	slices.SortStableFunc(entries, func(a, b audit.Entry) int { return b.Time.Compare(a.Time) })
}

// writeAuditJSON writes entries as one indented JSON array (webapi.AuditEntry), made
// terminal-safe (safetext.JSON) without changing what it decodes to.
func writeAuditJSON(w io.Writer, entries []audit.Entry) error {
	// The same shape as the gateway's GET audit, so that a script reads
	// both alike.
	out := make([]webapi.AuditEntry, len(entries))
	for i, e := range entries {
		out[i] = webapi.FromAuditEntry(e)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	_, err = w.Write(append(safetext.JSON(b), '\n'))
	return err
}

// auditColumns are the audit table's headers.
var auditColumns = [...]string{"ID", "TIME", "AGE", "OPERATOR", "STORE", "KEY", "ACTION", "OUTCOME", "REASON"}

// The columns the table shrinks when a terminal is too narrow.
const (
	auditKeyColumn    = 5
	auditReasonColumn = 8
	// auditMinShrunk is the fewest cells a shrunk column keeps.
	auditMinShrunk = 12
)

// writeAuditTable prints entries as an aligned table, every string that
// came from the log cleaned (safetext: a log holds keys, holders and
// reasons that came from stores or people) and measured with
// safetext.Width. In a terminal (width > 0) a table too wide loses the end
// of its reasons, then the middle of its keys; into a pipe nothing is cut.
func writeAuditTable(w io.Writer, entries []audit.Entry, now time.Time, width int) error {
	rows := make([][len(auditColumns)]string, 0, len(entries)+1)
	rows = append(rows, auditColumns)
	for _, e := range entries {
		action := e.Action.String()
		if e.Reverts != "" {
			action += " of " + safetext.Clean(e.Reverts)
		}
		age := timetext.Ago(uint64(max(now.Unix(), 0)), uint64(max(e.Time.Unix(), 0)))
		rows = append(rows, [len(auditColumns)]string{
			safetext.Clean(e.ID), e.Time.UTC().Format(time.RFC3339), age, safetext.Clean(e.Operator),
			safetext.Clean(e.Store), safetext.Key(e.Key), action, e.Outcome.String(), safetext.Clean(e.Reason),
		})
	}
	var widths [len(auditColumns)]int
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], safetext.Width(c))
		}
	}
	if width > 0 {
		total := columnGap * (len(widths) - 1)
		for _, cw := range widths {
			total += cw
		}
		for _, col := range []int{auditReasonColumn, auditKeyColumn} {
			if over := total - width; over > 0 && widths[col] > auditMinShrunk {
				cut := min(over, widths[col]-auditMinShrunk)
				widths[col] -= cut
				total -= cut
			}
		}
	}
	bw := bufio.NewWriter(w)
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			if safetext.Width(c) > widths[i] {
				if i == auditKeyColumn {
					c = elideKey(c, widths[i])
				} else {
					c = safetext.Truncate(c, widths[i])
				}
			}
			line.WriteString(c)
			if i < len(r)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-safetext.Width(c)+columnGap))
			}
		}
		s := strings.TrimRight(line.String(), " ")
		if width > 0 && safetext.Width(s) > width {
			s = safetext.Truncate(s, width)
		}
		bw.WriteString(s)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// auditEntryLine describes an entry in one line for messages and prompts,
// cleaned.
func auditEntryLine(e audit.Entry) string {
	s := fmt.Sprintf("%s: %s of %s/%s by %s at %s, %s", safetext.Clean(e.ID), e.Action, safetext.Clean(e.Store), safetext.Key(e.Key),
		safetext.Clean(e.Operator), e.Time.UTC().Format(time.RFC3339), e.Outcome)
	if e.Action == lease.ActionRevert && e.Reverts != "" {
		s += " (reverting " + safetext.Clean(e.Reverts) + ")"
	}
	if e.Reason != "" {
		s += ": " + safetext.Clean(e.Reason)
	}
	return s
}
