package webapi

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestStoreMarksOnTheWire pins the names of a store's marks on the wire,
// which the page and the server must agree on.
func TestStoreMarksOnTheWire(t *testing.T) {
	tests := []struct {
		name string
		in   Store
		want string
	}{
		{"production in colour", Store{Name: "prod", Color: "#d70000", Production: true}, `"color":"#d70000","production":true`},
		{"ansi colour", Store{Name: "staging", Color: "33"}, `"color":"33","production":false`},
		{"none", Store{Name: "scratch"}, `"history":false,"production":false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), tt.want) {
				t.Errorf("Marshal(%+v) = %s, want it to hold %s", tt.in, b, tt.want)
			}
			var back Store
			if err := json.Unmarshal(b, &back); err != nil || back != tt.in {
				t.Errorf("Unmarshal(%s) = %+v, %v; want %+v", b, back, err, tt.in)
			}
		})
	}
}
