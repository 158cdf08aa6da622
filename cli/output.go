package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
)

// Output formats.
const (
	formatTable = "table"
	formatJSON  = "json"
)

func checkFormat(f string) error {
	if f != formatTable && f != formatJSON {
		return usageErrorf("-o %q: want table or json", f)
	}
	return nil
}

// leaseJSON is one lease in -o json output (SPEC §6). Fields that do not
// apply are omitted; flags is always an array.
type leaseJSON struct {
	Store              string   `json:"store,omitempty"`
	Key                string   `json:"key,omitempty"`
	State              string   `json:"state"`
	Flags              []string `json:"flags"`
	HolderID           *string  `json:"holder_id,omitempty"`
	AcquiredAtUnix     *uint64  `json:"acquired_at_unix,omitempty"`
	ExpiresAtUnix      *uint64  `json:"expires_at_unix,omitempty"`
	CompletedCursorHex string   `json:"completed_cursor_hex,omitempty"`
	CompletedAtUnix    *uint64  `json:"completed_at_unix,omitempty"`
	Revision           uint64   `json:"revision,omitempty"`
	Error              string   `json:"error,omitempty"`
	// ValueB64 is the raw stored bytes, for get and decode.
	ValueB64 *string `json:"value_b64,omitempty"`
}

// statusJSON converts a classification; raw adds the stored bytes.
func statusJSON(st lease.Status, raw []byte, withRaw bool) leaseJSON {
	v := leaseJSON{State: st.State.String(), Flags: st.Flags.Strings()}
	if v.Flags == nil {
		v.Flags = []string{}
	}
	switch st.State {
	case lease.Held, lease.Expired:
		r := st.Record
		v.HolderID = &r.HolderID
		v.AcquiredAtUnix = &r.AcquiredAtUnix
		v.ExpiresAtUnix = &r.ExpiresAtUnix
		v.CompletedCursorHex = r.CompletedCursorHex
		v.CompletedAtUnix = r.CompletedAtUnix
	case lease.Corrupt:
		v.Error = st.Reason
	}
	if withRaw && st.State != lease.Absent {
		s := base64.StdEncoding.EncodeToString(raw)
		v.ValueB64 = &s
	}
	return v
}

// observationJSON converts what an operator is shown about one key.
func observationJSON(o lease.Observation, withRaw bool) leaseJSON {
	v := statusJSON(o.Status, o.Entry.Value, withRaw)
	v.Store, v.Key = o.Store, o.Key
	if o.Found {
		v.Revision = o.Entry.Revision
	}
	return v
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// relative renders the distance from now to unix as "in 4m12s" or "3m ago".
func relative(unix uint64, now time.Time) string {
	n := lease.UnixSeconds(now)
	if unix >= n {
		d := unix - n
		if d > uint64(100*365*24*3600) {
			return "in >100y"
		}
		return "in " + shortDuration(time.Duration(d)*time.Second)
	}
	return shortDuration(time.Duration(n-unix)*time.Second) + " ago"
}

// shortDuration prints at most two units: 4m12s, 3h05m, 12d4h.
func shortDuration(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%dh", s/86400, s%86400/3600)
}

// utc renders a Unix time as an absolute UTC timestamp.
func utc(unix uint64) string {
	if unix > 1<<62 {
		return strconv.FormatUint(unix, 10) + " (beyond year 9999)"
	}
	t := time.Unix(int64(unix), 0).UTC()
	if t.Year() > 9999 {
		return strconv.FormatUint(unix, 10) + " (beyond year 9999)"
	}
	return t.Format(time.RFC3339)
}

// listColumns are ls's table columns with the width each may take at most;
// the total stays within 80 columns including gaps.
var listColumns = []struct {
	title string
	max   int
}{
	{"STORE", 10}, {"KEY", 24}, {"STATE", 9}, {"HOLDER", 14}, {"EXPIRES", 10}, {"FLAGS", 9}, {"REV", 8},
}

// writeTable prints observations as an aligned table at most 80 columns
// wide. Every cell is cleaned of control characters and truncated with an
// ellipsis, never wrapped.
func writeTable(w io.Writer, obs []lease.Observation, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	titles := make([]string, len(listColumns))
	for i, c := range listColumns {
		titles[i] = c.title
	}
	fmt.Fprintln(tw, strings.Join(titles, "\t"))
	for _, o := range obs {
		holder, expires, flags := "-", "-", strings.Join(o.Status.Flags.Strings(), ",")
		switch o.Status.State {
		case lease.Held, lease.Expired:
			holder = o.Status.Record.HolderID
			expires = relative(o.Status.Record.ExpiresAtUnix, now)
		case lease.Corrupt:
			holder = "(" + o.Status.Reason + ")"
		}
		if flags == "" {
			flags = "-"
		}
		rev := "-"
		if o.Found {
			rev = strconv.FormatUint(o.Entry.Revision, 10)
		}
		cells := []string{o.Store, o.Key, o.Status.State.String(), holder, expires, flags, rev}
		for i, c := range cells {
			cells[i] = safetext.Truncate(c, listColumns[i].max)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// writeDetail prints one observation as "field: value" lines, for get and
// decode.
func writeDetail(w io.Writer, o lease.Observation, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	if o.Store != "" {
		row("store", safetext.Clean(o.Store))
	}
	if o.Key != "" {
		row("key", safetext.Clean(o.Key))
	}
	st := o.Status
	row("state", st.State.String())
	if f := st.Flags.Strings(); len(f) > 0 {
		row("flags", strings.Join(f, ", "))
	}
	switch st.State {
	case lease.Held, lease.Expired:
		r := st.Record
		row("holder", safetext.Clean(r.HolderID))
		row("acquired", fmt.Sprintf("%s (%s)", utc(r.AcquiredAtUnix), relative(r.AcquiredAtUnix, now)))
		row("expires", fmt.Sprintf("%s (%s)", utc(r.ExpiresAtUnix), relative(r.ExpiresAtUnix, now)))
		if r.CompletedCursorHex != "" {
			row("completed cursor", safetext.Clean(r.CompletedCursorHex))
		}
		if r.CompletedAtUnix != nil {
			row("completed", fmt.Sprintf("%s (%s)", utc(*r.CompletedAtUnix), relative(*r.CompletedAtUnix, now)))
		}
	case lease.Corrupt:
		row("reason", safetext.Clean(st.Reason))
	}
	if o.Found {
		row("revision", strconv.FormatUint(o.Entry.Revision, 10))
	}
	if st.State != lease.Absent {
		row("raw", rawPreview(o.Entry.Value))
	}
	return tw.Flush()
}

// rawPreview shows stored bytes safely: as text when they are printable
// UTF-8, else Go-quoted, so that escape sequences are visible, not obeyed.
func rawPreview(b []byte) string {
	if len(b) == 0 {
		return "(empty)"
	}
	const max = 400
	s := string(b)
	if !utf8.ValidString(s) || safetext.Clean(s) != s {
		s = strconv.QuoteToGraphic(s)
	}
	if len(b) > max {
		return fmt.Sprintf("(%d bytes) %s", len(b), safetext.Truncate(s, max))
	}
	return s
}
