package timeline

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

// checkWidth fails when a line of out is wider than width cells.
func checkWidth(t *testing.T, out string, width int) {
	t.Helper()
	for i, l := range strings.Split(out, "\n") {
		if w := ansi.StringWidth(l); w > width {
			t.Errorf("width %d: line %d is %d cells: %q", width, i+1, w, ansi.Strip(l))
		}
	}
}

func TestRenderFitsEveryWidth(t *testing.T) {
	h, actions := fleet()
	now := at(900)
	tl := Build(Input{Key: "exports/orders", Changes: h.changes, Actions: actions, Now: now, Thresholds: lease.DefaultThresholds()})
	for w := MinWidth; w <= 200; w += 7 {
		out := Render(tl, w, now, DefaultStyles(false))
		checkWidth(t, out, w)
		if !strings.Contains(ansi.Strip(out), "node-c") {
			t.Errorf("width %d: node-c's lane is missing", w)
		}
	}
	checkWidth(t, Render(tl, 10, now, Styles{}), MinWidth)
}

// TestRenderCleans writes hostile holders, cursors, reasons and corrupt
// values: nothing of them reaches the terminal raw.
func TestRenderCleans(t *testing.T) {
	evil := "node\x1b]0;pwned\x07\x1b[2J\u202e"
	c := uint64(at(5).Unix())
	r := lease.Record{HolderID: evil, AcquiredAtUnix: uint64(at(0).Unix()), ExpiresAtUnix: uint64(at(60).Unix()),
		CompletedCursorHex: "\x1b[31m", CompletedAtUnix: &c}
	takeover := lease.Record{HolderID: "operator:" + evil, AcquiredAtUnix: uint64(at(70).Unix()), ExpiresAtUnix: uint64(at(130).Unix())}.Encode()
	tl := Build(Input{
		Key: "k",
		Changes: []Change{
			{Entry: stores.Entry{Key: "k", Value: r.Encode(), Revision: 1}, Source: FromStore},
			{Entry: stores.Entry{Key: "k", Value: []byte("\x1b]52;c;ZXZpbA==\x07"), Revision: 2}, Source: FromStore},
		},
		Actions: []Action{{Time: at(70), Operator: evil, Action: lease.ActionTakeover, Outcome: lease.OutcomeWon, Reason: evil, RevisionAfter: 3, ValueAfter: takeover}},
		Now:     at(200), Thresholds: lease.DefaultThresholds(),
	})
	out := ansi.Strip(Render(tl, 120, at(200), DefaultStyles(true)))
	for _, bad := range []string{"\x1b", "\x07", "\u202e"} {
		if strings.Contains(out, bad) {
			t.Errorf("the strip holds %q raw:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "node␛]0;pwned") {
		t.Errorf("the holder is not shown cleaned:\n%s", out)
	}
}

// FuzzBuildRender builds and draws timelines from arbitrary values and
// times: nothing panics, and the strip fits its width.
func FuzzBuildRender(f *testing.F) {
	f.Add([]byte(`{"holder_id":"a","acquired_at_unix":1767322800,"expires_at_unix":1767322860}`), []byte{}, uint64(1767322900), 80)
	f.Add([]byte(`{"holder_id":"a","acquired_at_unix":18446744073709551615,"expires_at_unix":0}`), []byte("{"), uint64(0), 40)
	f.Add([]byte(`{"holder_id":"\u0000","acquired_at_unix":1,"expires_at_unix":18446744073709551615,"completed_cursor_hex":"x","completed_at_unix":5}`), []byte(`{"holder_id":"b","acquired_at_unix":0,"expires_at_unix":0}`), uint64(1<<40), 300)
	f.Fuzz(func(t *testing.T, v1, v2 []byte, now uint64, width int) {
		width = max(MinWidth, min(width, 400))
		n := time.Unix(int64(min(now, 1<<40)), 0).UTC()
		tl := Build(Input{
			Key: "k",
			Changes: []Change{
				{Entry: stores.Entry{Key: "k", Value: v1, Revision: 1}, Source: FromStore},
				{Entry: stores.Entry{Key: "k", Value: v2, Revision: 2}, At: n.Add(-time.Second), Source: FromObserved},
				{Entry: stores.Entry{Key: "k", Value: v1, Revision: 3}, Source: FromStore},
			},
			Now: n, Thresholds: lease.DefaultThresholds(),
		})
		checkWidth(t, Render(tl, width, n, DefaultStyles(true)), width)
	})
}
