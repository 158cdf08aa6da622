package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/leasectl/leasectl/gateway"
	"github.com/leasectl/leasectl/webapi"
)

// TestStoreMarks checks that the session and the stores answer carry each
// store's colour and production mark as configured, so that the browser's
// console marks the stores as the terminal's does.
func TestStoreMarks(t *testing.T) {
	f := newFixture(t, func(c *gateway.Config) {
		c.Stores[0].Color, c.Stores[0].Production = "#d70000", true
		c.Stores[1].Color = "33"
	})
	c := f.session()
	want := []struct {
		color      string
		production bool
	}{{"#d70000", true}, {"33", false}}

	var sess webapi.Session
	a := c.get(webapi.PathSession)
	a.decode(t, &sess)
	var st webapi.Stores
	b := c.get(webapi.PathStores)
	b.decode(t, &st)
	if a.status != http.StatusOK || b.status != http.StatusOK || len(sess.Stores) != 2 || len(st.Stores) != 2 {
		t.Fatalf("session = %d %s; stores = %d %s", a.status, a.body, b.status, b.body)
	}
	for i, w := range want {
		for _, got := range []webapi.Store{sess.Stores[i], st.Stores[i]} {
			if got.Color != w.color || got.Production != w.production {
				t.Errorf("stores[%d] = color %q production %v, want %q %v", i, got.Color, got.Production, w.color, w.production)
			}
		}
	}
	if !strings.Contains(string(a.body), `"color":"#d70000","production":true`) || !strings.Contains(string(a.body), `"color":"33","production":false`) {
		t.Errorf("the session on the wire lacks the marks: %s", a.body)
	}
}
