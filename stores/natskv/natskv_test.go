package natskv_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/natskv"
)

func mustCreate(t testing.TB, s stores.Store, key string, value []byte) uint64 {
	t.Helper()
	rev, err := s.Create(t.Context(), key, value)
	if err != nil {
		t.Fatalf("Create(%q) = %v, want nil", key, err)
	}
	return rev
}

func mustUpdate(t testing.TB, s stores.Store, key string, value []byte, rev uint64) uint64 {
	t.Helper()
	next, err := s.Update(t.Context(), key, value, rev)
	if err != nil {
		t.Fatalf("Update(%q, %d) = %v, want nil", key, rev, err)
	}
	return next
}

func wantGet(t testing.TB, s stores.Store, key string, value []byte, rev uint64) {
	t.Helper()
	e, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q) = %v, want nil", key, err)
	}
	if string(e.Value) != string(value) || e.Revision != rev || e.Key != key {
		t.Errorf("Get(%q) = {%q %q rev %d}, want {%q %q rev %d}", key, e.Key, e.Value, e.Revision, key, value, rev)
	}
}

func wantAbsent(t testing.TB, s stores.Store, key string) {
	t.Helper()
	if e, err := s.Get(t.Context(), key); !errors.Is(err, stores.ErrNotFound) {
		t.Errorf("Get(%q) = %+v, %v, want ErrNotFound", key, e, err)
	}
}

// listKeys returns the keys List(prefix) returns.
func listKeys(t testing.TB, s stores.Store, prefix string) []string {
	t.Helper()
	list, err := s.List(t.Context(), prefix)
	if err != nil {
		t.Fatalf("List(%q) = %v, want nil", prefix, err)
	}
	keys := make([]string, len(list))
	for i, e := range list {
		keys[i] = e.Key
	}
	return keys
}

// TestZeroLengthValueIsAPut checks that a zero-length value (a lease
// tombstone) is stored as an ordinary message, not a KV delete marker, and
// reads back as a zero-length value.
func TestZeroLengthValueIsAPut(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, key string) uint64
	}{
		{"create empty", func(t *testing.T, key string) uint64 { return mustCreate(t, f.store, key, []byte{}) }},
		{"create nil", func(t *testing.T, key string) uint64 { return mustCreate(t, f.store, key, nil) }},
		{"update to empty", func(t *testing.T, key string) uint64 {
			rev := mustCreate(t, f.store, key, []byte(`{"holder_id":"a"}`))
			return mustUpdate(t, f.store, key, []byte{}, rev)
		}},
		{"update empty to empty", func(t *testing.T, key string) uint64 {
			rev := mustCreate(t, f.store, key, nil)
			return mustUpdate(t, f.store, key, nil, rev)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "zero/" + strings.ReplaceAll(tc.name, " ", "-")
			rev := tc.write(t, key)

			m := f.rawLast(t, key)
			if op := m.Header.Get("KV-Operation"); op != "" {
				t.Errorf("stored message of %q has KV-Operation: %q, want no such header (headers %v)", key, op, m.Header)
			}
			if len(m.Data) != 0 || m.Sequence != rev {
				t.Errorf("stored message of %q = %q at sequence %d, want \"\" at %d", key, m.Data, m.Sequence, rev)
			}
			e, err := f.store.Get(ctx, key)
			if err != nil || e.Value == nil || len(e.Value) != 0 || e.Revision != rev {
				t.Errorf("Get(%q) = %q (nil %t) rev %d, %v, want a non-nil zero-length value at %d", key, e.Value, e.Value == nil, e.Revision, err, rev)
			}
			// nats.go's own reader agrees that it is a put.
			kve, err := f.kv.Get(ctx, key)
			if err != nil || kve.Operation() != jetstream.KeyValuePut {
				t.Errorf("kv.Get(%q) = %v, %v, want a put", key, kve, err)
			}
			// Still exists: a create over it is refused.
			if _, err := f.store.Create(ctx, key, []byte("x")); !errors.Is(err, stores.ErrExists) {
				t.Errorf("Create(%q) over a zero-length value = %v, want ErrExists", key, err)
			}
		})
	}
	// The header check can fail: a real delete marker carries it.
	mustCreate(t, f.store, "zero/deleted", []byte("x"))
	if err := f.store.Delete(ctx, "zero/deleted"); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if op := f.rawLast(t, "zero/deleted").Header.Get("KV-Operation"); op != "DEL" {
		t.Errorf("stored message after Delete has KV-Operation: %q, want \"DEL\"", op)
	}
}

// TestMarkers checks that every kind of marker reads as absent, is not
// listed, refuses an update against the old revision, and is written over by
// Create, with nats.go, the driver and the server itself writing the marker.
func TestMarkers(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name   string
		header string // KV-Operation of the marker
		mark   func(key string) error
	}{
		{"kv.Delete", "DEL", func(key string) error { return f.kv.Delete(ctx, key) }},
		{"kv.Purge", "PURGE", func(key string) error { return f.kv.Purge(ctx, key) }},
		{"Store.Delete", "DEL", func(key string) error { return f.store.Delete(ctx, key) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "m/" + strings.ReplaceAll(tc.name, ".", "-")
			rev1 := mustCreate(t, f.store, key, []byte("v1"))
			rev1 = mustUpdate(t, f.store, key, []byte("v1b"), rev1)
			if err := tc.mark(key); err != nil {
				t.Fatalf("%s(%q) = %v", tc.name, key, err)
			}
			marker := f.rawLast(t, key)
			if got := marker.Header.Get("KV-Operation"); got != tc.header {
				t.Fatalf("marker KV-Operation = %q, want %q", got, tc.header)
			}
			wantAbsent(t, f.store, key)
			if keys := listKeys(t, f.store, "m/"); slices.Contains(keys, key) {
				t.Errorf("List(%q) = %q, want no %q", "m/", keys, key)
			}
			if _, err := f.store.Update(ctx, key, []byte("v2"), rev1); !errors.Is(err, stores.ErrConflict) {
				t.Errorf("Update(%q, %d) over a marker = %v, want ErrConflict", key, rev1, err)
			}
			wantAbsent(t, f.store, key)
			rev2 := mustCreate(t, f.store, key, []byte("v2"))
			if rev2 <= marker.Sequence {
				t.Errorf("Create(%q) over the marker at %d = revision %d, want later", key, marker.Sequence, rev2)
			}
			wantGet(t, f.store, key, []byte("v2"), rev2)
			if keys := listKeys(t, f.store, "m/"); !slices.Contains(keys, key) {
				t.Errorf("List(%q) = %q, want %q in it", "m/", keys, key)
			}
		})
	}
}

// TestUpdateAtMarkerRevision pins the documented exception: JetStream
// cannot tell a CAS against a marker's own sequence (the revision an
// EventDelete carries) from any other, so it writes over the marker. A
// revision read before the deletion conflicts (TestMarkers).
func TestUpdateAtMarkerRevision(t *testing.T) {
	f := newFixture(t)
	const key = "m/at-marker"
	mustCreate(t, f.store, key, []byte("v1"))
	if err := f.store.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	marker := f.rawLast(t, key).Sequence
	rev, err := f.store.Update(t.Context(), key, []byte("v2"), marker)
	if err != nil {
		t.Fatalf("Update(%q, marker revision %d) = %v, want nil (documented)", key, marker, err)
	}
	wantGet(t, f.store, key, []byte("v2"), rev)
}

// TestServerMarker checks the marker the server writes itself when a
// per-key TTL runs out (Nats-Marker-Reason, no KV-Operation header).
func TestServerMarker(t *testing.T) {
	_, js := sharedServer(t).Connect(t)
	// Markers live as long as LimitMarkerTTL, and message TTLs are raised
	// to it: two seconds keep the marker long enough to look at it.
	const ttl = 2 * time.Second
	kv := newBucketConfig(t, js, jetstream.KeyValueConfig{History: 10, LimitMarkerTTL: ttl})
	s, err := natskv.New(t.Context(), js, kv.Bucket())
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	const key = "ttl/a"
	if _, err := kv.Create(t.Context(), key, []byte("short-lived"), jetstream.KeyTTL(ttl)); err != nil {
		t.Fatalf("kv.Create(%q, KeyTTL %v) = %v", key, ttl, err)
	}
	st, err := js.Stream(t.Context(), "KV_"+kv.Bucket())
	if err != nil {
		t.Fatalf("Stream = %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, err := st.GetLastMsgForSubject(t.Context(), "$KV."+kv.Bucket()+"."+key)
		if err == nil && m.Header.Get(jetstream.MarkerReasonHeader) != "" {
			t.Logf("server marker: sequence %d, headers %v", m.Sequence, m.Header)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no server marker on %q within 30s (last read: %v)", key, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantAbsent(t, s, key)
	if keys := listKeys(t, s, ""); len(keys) != 0 {
		t.Errorf("List(\"\") = %q, want none", keys)
	}
	rev := mustCreate(t, s, key, []byte("again"))
	wantGet(t, s, key, []byte("again"), rev)
}

// TestCreateExists checks that Create on a live key returns the entry in
// the way, read in the same call, and the server's 10071 inside.
func TestCreateExists(t *testing.T) {
	f := newFixture(t)
	for _, value := range [][]byte{[]byte("first"), {}} {
		key := fmt.Sprintf("exists/%d", len(value))
		rev := mustCreate(t, f.store, key, value)
		got, err := f.store.Create(t.Context(), key, []byte("second"))
		if !errors.Is(err, stores.ErrExists) || got != 0 {
			t.Fatalf("Create(%q) again = %d, %v, want 0, ErrExists", key, got, err)
		}
		ee, ok := errors.AsType[*stores.ExistsError](err)
		if !ok {
			t.Fatalf("Create(%q) again = %v, want a *stores.ExistsError", key, err)
		}
		if ee.Current.Key != key || string(ee.Current.Value) != string(value) || ee.Current.Revision != rev {
			t.Errorf("ExistsError.Current = {%q %q rev %d}, want {%q %q rev %d}", ee.Current.Key, ee.Current.Value, ee.Current.Revision, key, value, rev)
		}
		apiErr, ok := errors.AsType[*jetstream.APIError](err)
		if !ok || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
			t.Errorf("Create(%q) again = %v, want the server's error 10071 wrapped", key, err)
		}
	}
}

// TestConflictWrongLastSequence checks that a stale CAS answered with error
// 10071 (JSStreamWrongLastSequenceErrF) is ErrConflict with the server's
// error kept.
func TestConflictWrongLastSequence(t *testing.T) {
	f := newFixture(t)
	const key = "cas/a"
	rev1 := mustCreate(t, f.store, key, []byte("v1"))
	rev2 := mustUpdate(t, f.store, key, []byte("v2"), rev1)
	for _, stale := range []uint64{rev1, rev2 + 1, 1 << 60} {
		_, err := f.store.Update(t.Context(), key, []byte("stale"), stale)
		if !errors.Is(err, stores.ErrConflict) {
			t.Fatalf("Update(%q, %d) = %v, want ErrConflict", key, stale, err)
		}
		apiErr, ok := errors.AsType[*jetstream.APIError](err)
		if !ok || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
			t.Errorf("Update(%q, %d) = %v, want the server's error 10071 wrapped", key, stale, err)
		}
		if !strings.Contains(err.Error(), "natskv: update") {
			t.Errorf("Update error %q does not name the package and operation", err)
		}
	}
	wantGet(t, f.store, key, []byte("v2"), rev2)

	// Revision 0 never acts as a create, on a live key or a missing one.
	for _, k := range []string{key, "cas/missing"} {
		if _, err := f.store.Update(t.Context(), k, []byte("x"), 0); !errors.Is(err, stores.ErrConflict) {
			t.Errorf("Update(%q, 0) = %v, want ErrConflict", k, err)
		}
	}
	wantAbsent(t, f.store, "cas/missing")
}

// TestConflictErrorMapping checks the mapping of every form in which nats.go
// reports a wrong last sequence, including 10164, whose real occurrence
// TestConflictReplicated provokes on a cluster. The values are the error
// values nats.go returns, not a fake server.
func TestConflictErrorMapping(t *testing.T) {
	e10071 := &jetstream.APIError{Code: 400, ErrorCode: 10071, Description: "wrong last sequence: 7"}
	e10164 := &jetstream.APIError{Code: 400, ErrorCode: 10164, Description: "wrong last sequence"}
	for _, tc := range []struct {
		name     string
		err      error
		conflict bool
	}{
		{"10071", e10071, true},
		{"10164", e10164, true},
		{"10164 as kv.Update wraps it", fmt.Errorf("%w: %w", e10164, jetstream.ErrKeyRevisionMismatch), true},
		{"10071 as kv.Update wraps it", fmt.Errorf("%w: %w", e10071, jetstream.ErrKeyRevisionMismatch), true},
		{"ErrKeyExists", jetstream.ErrKeyExists, true},
		{"stream not found", &jetstream.APIError{Code: 404, ErrorCode: 10059, Description: "stream not found"}, false},
		{"timeout", context.DeadlineExceeded, false},
		{"no responders", jetstream.ErrNoStreamResponse, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := natskv.MapUpdateError("k", 3, tc.err)
			if errors.Is(got, stores.ErrConflict) != tc.conflict {
				t.Errorf("MapUpdateError(%v) = %v, want ErrConflict %t", tc.err, got, tc.conflict)
			}
			if !errors.Is(got, tc.err) {
				t.Errorf("MapUpdateError(%v) = %v, want the original error wrapped", tc.err, got)
			}
		})
	}
}

// TestInvalidKeys checks that keys NATS cannot store are refused with
// ErrInvalidKey naming the key, by every keyed method, without I/O.
func TestInvalidKeys(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	before := outMsgs(f.nc)
	for _, key := range []string{"", ".", ".a", "a.", "a..b", "a b", "a*", "a>", "*", ">", "ä", "a\x00", "a\nb", "a\tb", "$KV", "a,b", "\xff"} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			for name, call := range map[string]func() error{
				"Get":      func() error { _, err := f.store.Get(ctx, key); return err },
				"Create":   func() error { _, err := f.store.Create(ctx, key, []byte("v")); return err },
				"Update":   func() error { _, err := f.store.Update(ctx, key, []byte("v"), 1); return err },
				"Delete":   func() error { return f.store.Delete(ctx, key) },
				"History":  func() error { _, err := f.store.History(ctx, key); return err },
				"CheckKey": func() error { return f.store.CheckKey(key) },
			} {
				err := call()
				if !errors.Is(err, stores.ErrInvalidKey) {
					t.Errorf("%s(%q) = %v, want ErrInvalidKey", name, key, err)
					continue
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) || !strings.Contains(err.Error(), "[-/_=.a-zA-Z0-9]+") {
					t.Errorf("%s(%q) = %q, want the quoted key and the rule in the message", name, key, err)
				}
			}
		})
	}
	if got := outMsgs(f.nc) - before; got != 0 {
		t.Errorf("invalid keys sent %d messages to the server, want 0", got)
	}
	// The edges of the rule that are valid.
	for _, key := range []string{"a", "a.b", "exports/orders", "/lead", "trail/", "-_=/.x", "A.Z.0.9", "a.b-c/d=e_f"} {
		rev := mustCreate(t, f.store, key, []byte(key))
		wantGet(t, f.store, key, []byte(key), rev)
	}
}

// TestListPrefixes checks prefixes against the subject tokens: the part up
// to the last '.' filters on the server, the rest on the client, and a
// prefix no key can have costs nothing.
func TestListPrefixes(t *testing.T) {
	f := newFixture(t)
	keys := []string{"a", "a.b", "a.b.c", "a.bc", "a.c", "ab", "exports/a", "exports/b/c", "exportsx", "x.y/z.w", "z"}
	revs := map[string]uint64{}
	for _, k := range keys {
		revs[k] = mustCreate(t, f.store, k, []byte("v:"+k))
	}
	for _, prefix := range []string{"", "a", "a.", "a.b", "a.b.", "a.b.c", "exports/", "exports", "x.y/", "x.y/z.", "zz"} {
		t.Run(fmt.Sprintf("%q", prefix), func(t *testing.T) {
			var want []string
			for _, k := range keys {
				if strings.HasPrefix(k, prefix) {
					want = append(want, k)
				}
			}
			list, err := f.store.List(t.Context(), prefix)
			if err != nil {
				t.Fatalf("List(%q) = %v", prefix, err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Key)
				if e.Revision != revs[e.Key] || string(e.Value) != "v:"+e.Key {
					t.Errorf("List(%q) entry = {%q %q rev %d}, want {%q %q rev %d}", prefix, e.Key, e.Value, e.Revision, e.Key, "v:"+e.Key, revs[e.Key])
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("List(%q) = %q, want %q", prefix, got, want)
			}
		})
	}
	before := outMsgs(f.nc)
	for _, prefix := range []string{".a", "a..", "ä", "a*", "a>", "a b"} {
		list, err := f.store.List(t.Context(), prefix)
		if err != nil || len(list) != 0 {
			t.Errorf("List(%q) = %d entries, %v, want none", prefix, len(list), err)
		}
	}
	if got := outMsgs(f.nc) - before; got != 0 {
		t.Errorf("List of impossible prefixes sent %d messages, want 0", got)
	}
}

// TestListEmptyBucket checks that listing an empty bucket returns at once:
// the watcher marks the end of an empty snapshot immediately.
func TestListEmptyBucket(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, prefix := range []string{"", "a.", "exports/"} {
		list, err := f.store.List(ctx, prefix)
		if err != nil || len(list) != 0 {
			t.Errorf("List(%q) on an empty bucket = %d entries, %v, want none, nil", prefix, len(list), err)
		}
	}
}

// TestHistory checks that History keeps only writes, oldest first, values
// from before a delete included, and what it costs.
func TestHistory(t *testing.T) {
	f := newFixture(t)
	const key = "h/a"
	if _, err := f.store.History(t.Context(), key); !errors.Is(err, stores.ErrNotFound) {
		t.Errorf("History(%q) of a missing key = %v, want ErrNotFound", key, err)
	}
	r1 := mustCreate(t, f.store, key, []byte("1"))
	r2 := mustUpdate(t, f.store, key, []byte{}, r1)
	if err := f.store.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	r3 := mustCreate(t, f.store, key, []byte("3"))
	mustCreate(t, f.store, "h/ab", []byte("other key"))
	before := outMsgs(f.nc)
	got, err := f.store.History(t.Context(), key)
	if err != nil {
		t.Fatalf("History(%q) = %v", key, err)
	}
	// One request for the key's last message, one per message kept: three
	// writes and the delete marker.
	if n := outMsgs(f.nc) - before; n != 5 {
		t.Errorf("History(%q) made %d requests, want 5", key, n)
	}
	want := []stores.Entry{{Key: key, Value: []byte("1"), Revision: r1}, {Key: key, Value: []byte{}, Revision: r2}, {Key: key, Value: []byte("3"), Revision: r3}}
	if !slices.EqualFunc(got, want, func(a, b stores.Entry) bool {
		return a.Key == b.Key && string(a.Value) == string(b.Value) && a.Revision == b.Revision
	}) {
		t.Errorf("History(%q) = %+v, want %+v", key, got, want)
	}

	if err := f.kv.Purge(t.Context(), "h/ab"); err != nil {
		t.Fatalf("Purge = %v", err)
	}
	if _, err := f.store.History(t.Context(), "h/ab"); !errors.Is(err, stores.ErrNotFound) {
		t.Errorf("History of a purged key = %v, want ErrNotFound", err)
	}
}

// TestOpen checks New's and Dial's refusals and Dial's bucket creation.
func TestOpen(t *testing.T) {
	srv := sharedServer(t)
	url := srv.URL()
	_, js := srv.Connect(t)
	if _, err := natskv.New(t.Context(), js, "no-such-bucket"); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Errorf("New(missing bucket) = %v, want ErrBucketNotFound", err)
	}
	for _, bucket := range []string{"", "a.b", "a b", "a/b"} {
		if _, err := natskv.New(t.Context(), js, bucket); err == nil || !strings.Contains(err.Error(), "invalid bucket name") {
			t.Errorf("New(%q) = %v, want an invalid bucket name error", bucket, err)
		}
	}
	if _, err := natskv.New(t.Context(), js, "b", natskv.WithWatchRetry(0)); err == nil {
		t.Errorf("New(WithWatchRetry(0)) = nil error, want one")
	}
	for _, tc := range []struct {
		name string
		cfg  natskv.Config
		want string
	}{
		{"no bucket", natskv.Config{URL: url}, "bucket is required"},
		{"two auth methods", natskv.Config{URL: url, Bucket: "x", Token: "t", CredsFile: "c"}, "at most one"},
		{"missing nkey file", natskv.Config{URL: url, Bucket: "x", NKeyFile: "/nonexistent/seed"}, "nkey"},
		{"missing bucket", natskv.Config{URL: url, Bucket: "nope"}, "bucket not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := natskv.Dial(t.Context(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Dial(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
			}
			if s != nil {
				t.Errorf("Dial(%+v) returned a store with its error", tc.cfg)
			}
		})
	}
	t.Run("create", func(t *testing.T) {
		bucket := fmt.Sprintf("dial%d", bucketSeq.Add(1))
		s, err := natskv.Dial(t.Context(), natskv.Config{URL: url, Bucket: bucket, Create: true})
		if err != nil {
			t.Fatalf("Dial(Create) = %v", err)
		}
		t.Cleanup(func() { _ = js.DeleteKeyValue(context.Background(), bucket) })
		rev := mustCreate(t, s, "k", []byte("v"))
		wantGet(t, s, "k", []byte("v"), rev)
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close() = %v", err)
		}
		if _, err := s.Get(t.Context(), "k"); err == nil {
			t.Errorf("Get after Close = nil error, want one")
		}
		// Dialing again opens the bucket created before.
		s2, err := natskv.Dial(t.Context(), natskv.Config{URL: url, Bucket: bucket, Create: true})
		if err != nil {
			t.Fatalf("second Dial(Create) = %v", err)
		}
		defer s2.Close()
		wantGet(t, s2, "k", []byte("v"), rev)
	})
}
