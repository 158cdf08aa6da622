package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/leasectl/leasectl/internal/termwidth"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
	"github.com/leasectl/leasectl/stores"
)

// observe classifies a live lease of holder at key, as ls lists it.
func observe(now time.Time, key, holder string) lease.Observation {
	n := uint64(now.Unix())
	v := lease.Record{HolderID: holder, AcquiredAtUnix: n - 60, ExpiresAtUnix: n + 240}.Encode()
	return lease.Observe("prod", stores.Entry{Key: key, Value: v, Revision: 7}, true, now, lease.DefaultThresholds())
}

// TestTableColumnsAlign prints keys and holders holding emoji sequences,
// CJK and accents, and checks, as tmux, xterm.js and a grapheme-clustering
// terminal each measure the lines, that every row's STATE and EXPIRES cells
// start where the header puts them: into a pipe and in a terminal.
func TestTableColumnsAlign(t *testing.T) {
	now := time.Now()
	var obs []lease.Observation
	for _, kh := range [][2]string{
		{"exports/plain", "node-a"},
		{"exports/😀👍🏽🇯🇵", "node-😀👍🏽🇯🇵"},
		{"exports/👩‍👩‍👧‍👦", "👩‍👩‍👧‍👦-ops"},
		{"exports/❤️-1️⃣", "❤️1️⃣"},
		{"exports/東京", "ノード-東京"},
		{"exports/cafe\u0301", "e\u0301"},
		{"exports/का", "क्ष"},
	} {
		obs = append(obs, observe(now, kh[0], kh[1]))
	}
	for _, width := range []int{0, 200} {
		t.Run(fmt.Sprintf("width-%d", width), func(t *testing.T) {
			var out bytes.Buffer
			if err := writeTable(&out, obs, now, width); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			header, rows := lines[0], lines[1:]
			for _, term := range termwidth.All {
				for _, col := range []struct{ title, cell string }{{"STATE", "held  "}, {"EXPIRES", "in 4m00s  "}} {
					at := term.Width(header[:strings.Index(header, col.title)])
					for _, row := range rows {
						i := strings.Index(row, "  "+col.cell)
						if i < 0 || term.Width(row[:i+2]) != at {
							t.Errorf("%s: the %s column starts at cell %d, this row's %s cell elsewhere:\n%s\n%s", term, col.title, at, col.title, header, row)
						}
					}
				}
			}
		})
	}
}

// keyFixture holds keys that looked alike before issue 8.
var keyFixture = []string{
	"exports/\xff", "exports/\xfe", "exports/\ufffd",
	"exports/   ", "exports/ ", "exports/", " exports/lead", "exports/a  b",
	`exports/a\xff`, `"exports/\xff"`, "exports/\x1b", "exports/␛",
}

// TestTableKeysDistinct checks that keys that differ in bytes a terminal
// cannot show differ in ls's table: into a pipe and in a terminal.
func TestTableKeysDistinct(t *testing.T) {
	now := time.Now()
	var obs []lease.Observation
	for _, k := range keyFixture {
		obs = append(obs, observe(now, k, "node-a"))
	}
	for _, width := range []int{0, 120} {
		t.Run(fmt.Sprintf("width-%d", width), func(t *testing.T) {
			var out bytes.Buffer
			if err := writeTable(&out, obs, now, width); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			keyAt := strings.Index(lines[0], "KEY")
			seen := map[string]string{}
			for i, row := range lines[1:] {
				cell := row[keyAt:strings.Index(row, "  held  ")]
				if k, ok := seen[cell]; ok {
					t.Errorf("%q and %q both show as %q:\n%s", k, keyFixture[i], cell, out.String())
				}
				seen[cell] = keyFixture[i]
				if want := safetext.Key(keyFixture[i]); strings.TrimRight(cell, " ") != want {
					t.Errorf("the key %q shows as %q, want %s", keyFixture[i], cell, want)
				}
			}
		})
	}
}

// TestJSONKeyBytes checks that -o json gives back the exact bytes of a key
// that is not UTF-8, in key_b64, and leaves key_b64 out for the others.
func TestJSONKeyBytes(t *testing.T) {
	now := time.Now()
	for _, k := range keyFixture {
		var out bytes.Buffer
		if err := writeListJSON(&out, []lease.Observation{observe(now, k, "node-a")}); err != nil {
			t.Fatal(err)
		}
		var got []map[string]any
		if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got) != 1 {
			t.Fatalf("ls -o json = %s: %v", out.String(), err)
		}
		b64, has := got[0]["key_b64"].(string)
		switch raw, err := base64.StdEncoding.DecodeString(b64); {
		case !utf8.ValidString(k) && !has:
			t.Errorf("ls -o json of the key %q has no key_b64: %s", k, out.String())
		case has && (err != nil || string(raw) != k):
			t.Errorf("ls -o json of the key %q: key_b64 %q decodes to %q (%v)", k, b64, raw, err)
		case !has && got[0]["key"] != k:
			t.Errorf("ls -o json of the key %q: key %q", k, got[0]["key"])
		}
	}
}

// TestDetailShowsKey checks get's key line.
func TestDetailShowsKey(t *testing.T) {
	now := time.Now()
	for _, k := range keyFixture {
		var out bytes.Buffer
		if err := writeDetail(&out, observe(now, k, "node-a"), now); err != nil {
			t.Fatal(err)
		}
		var line string
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, "key:") {
				line = l
			}
		}
		if got, want := strings.TrimLeft(strings.TrimPrefix(line, "key:"), " "), safetext.Key(k); got != want {
			t.Errorf("get of %q shows the key as %q, want %s:\n%s", k, got, want, out.String())
		}
	}
}
