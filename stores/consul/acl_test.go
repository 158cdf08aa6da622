package consul_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/consul"
	"github.com/leasectl/leasectl/stores/consul/consultest"
)

const rootToken = "root-token"

// startACLAgent starts a dev agent with ACLs (default deny) and rootToken
// as its management token, ready once the token can use the KV store.
func startACLAgent(t *testing.T) *consultest.Agent {
	t.Helper()
	a := consultest.Start(t, consultest.WithACL(rootToken))
	t.Logf("agent with ACLs up in %v", a.Startup())
	return a
}

func TestACL(t *testing.T) {
	a := startACLAgent(t)
	root := apiClient(t, a, rootToken, nil)
	policy, _, err := root.ACL().PolicyCreate(&api.ACLPolicy{
		Name:  "leases-only",
		Rules: `key_prefix "leases/" { policy = "write" }`,
	}, nil)
	if err != nil {
		t.Fatalf("PolicyCreate() = %v", err)
	}
	tok, _, err := root.ACL().TokenCreate(&api.ACLToken{Policies: []*api.ACLTokenPolicyLink{{ID: policy.ID}}}, nil)
	if err != nil {
		t.Fatalf("TokenCreate() = %v", err)
	}
	if _, err := root.KV().Put(&api.KVPair{Key: "secret/x", Value: []byte("s")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := root.KV().Put(&api.KVPair{Key: "leases/seed", Value: []byte("s")}, nil); err != nil {
		t.Fatal(err)
	}

	open := func(t *testing.T, token string) *consul.Store {
		t.Helper()
		s, err := consul.Dial(t.Context(), consul.Config{Address: a.Addr(), Token: token})
		if err != nil {
			t.Fatalf("Dial(token %q) = %v", token, err)
		}
		return s
	}

	t.Run("unknown-token", func(t *testing.T) {
		s := open(t, "00000000-0000-0000-0000-000000000000")
		ctx := t.Context()
		checks := []struct {
			op  string
			err error
		}{
			{"get", func() error { _, err := s.Get(ctx, "leases/a"); return err }()},
			{"create", func() error { _, err := s.Create(ctx, "leases/a", nil); return err }()},
			{"update", func() error { _, err := s.Update(ctx, "leases/seed", nil, 1); return err }()},
			{"list", func() error { _, err := s.List(ctx, "leases/"); return err }()},
			{"delete", s.Delete(ctx, "leases/a")},
		}
		for _, c := range checks {
			wantDenied(t, c.op, c.err)
		}
	})

	t.Run("scoped-token", func(t *testing.T) {
		s := open(t, tok.SecretID)
		ctx := t.Context()
		wantDenied(t, "get outside", func() error { _, err := s.Get(ctx, "secret/x"); return err }())
		wantDenied(t, "create outside", func() error { _, err := s.Create(ctx, "secret/y", nil); return err }())
		wantDenied(t, "list everything", func() error { _, err := s.List(ctx, ""); return err }())

		rev, err := s.Create(ctx, "leases/a", []byte("v"))
		if err != nil {
			t.Fatalf("Create(%q) = %v", "leases/a", err)
		}
		if _, err := s.Update(ctx, "leases/a", []byte("w"), rev); err != nil {
			t.Errorf("Update(%q, rev %d) = %v", "leases/a", rev, err)
		}
		if _, err := s.Update(ctx, "leases/a", []byte("w"), rev); !errors.Is(err, stores.ErrConflict) || isDenied(err) {
			t.Errorf("stale Update(%q, rev %d) = %v, want ErrConflict only", "leases/a", rev, err)
		}
		if _, err := s.Create(ctx, "leases/a", nil); !errors.Is(err, stores.ErrExists) || isDenied(err) {
			t.Errorf("second Create(%q) = %v, want ErrExists only", "leases/a", err)
		}
		list, err := s.List(ctx, "leases/")
		if err != nil || len(list) != 2 {
			t.Errorf("List(%q) = %d entries, %v, want 2", "leases/", len(list), err)
		}

		ch, err := s.Watch(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		ev := next(t, ch)
		if ev.Kind != stores.EventError || !isDenied(ev.Err) {
			t.Errorf("Watch(\"\") first event = %s %v, want EventError matching ErrPermissionDenied", ev.Kind, ev.Err)
		}
	})

	// The agent does not tell the anonymous token that it filtered a list
	// (maskResultsFilteredByACLs): List cannot know, and documents it. Pin
	// that, so a Consul that starts telling is noticed.
	t.Run("anonymous-token", func(t *testing.T) {
		t.Setenv("CONSUL_HTTP_TOKEN", "")
		s := open(t, "")
		list, err := s.List(t.Context(), "")
		if err != nil || len(list) != 0 {
			t.Errorf("anonymous List(\"\") = %d entries, %v, want an empty list and no error (Consul hides the filtering)", len(list), err)
		}
		wantDenied(t, "anonymous get", func() error { _, err := s.Get(t.Context(), "leases/seed"); return err }())
		wantDenied(t, "anonymous create", func() error { _, err := s.Create(t.Context(), "leases/b", nil); return err }())
	})

	t.Run("root-token", func(t *testing.T) {
		s := open(t, rootToken)
		rev := mustCreate(t, s, "secret/z", []byte("v"))
		if e, err := s.Get(t.Context(), "secret/z"); err != nil || e.Revision != rev {
			t.Errorf("Get(%q) = %+v, %v, want revision %d", "secret/z", e, err, rev)
		}
		if list, err := s.List(t.Context(), ""); err != nil || len(list) < 3 {
			t.Errorf("List(\"\") = %d entries, %v, want at least 3", len(list), err)
		}
	})
}

// wantDenied checks that err is a clear permission-denied error.
func wantDenied(t *testing.T, op string, err error) {
	t.Helper()
	if !isDenied(err) || !strings.Contains(err.Error(), "permission denied") || !strings.HasPrefix(err.Error(), "consul: ") {
		t.Errorf("%s: %v, want an error matching ErrPermissionDenied", op, err)
		return
	}
	if errors.Is(err, stores.ErrNotFound) || errors.Is(err, stores.ErrExists) || errors.Is(err, stores.ErrConflict) {
		t.Errorf("%s: %v also matches a contract sentinel", op, err)
	}
	t.Logf("%s: %v", op, err)
}
