package safetext

import "testing"

// BenchmarkText measures what a table cell costs: cleaning, measuring and
// cutting a key or holder, for plain ASCII (the common case), CJK, and an
// emoji sequence.
func BenchmarkText(b *testing.B) {
	for _, c := range []struct{ name, s string }{
		{"ascii", "exports/region-3/job-0012345"},
		{"cjk", "exports/東京/ジョブ-0012345"},
		{"accent", "exports/cafe\u0301/job-0012345"},
		{"emoji", "exports/👩‍👩‍👧‍👦/job-😀👍🏽"},
	} {
		b.Run(c.name+"/Clean", func(b *testing.B) {
			for b.Loop() {
				Clean(c.s)
			}
		})
		b.Run(c.name+"/Width", func(b *testing.B) {
			for b.Loop() {
				Width(c.s)
			}
		})
		b.Run(c.name+"/Truncate", func(b *testing.B) {
			for b.Loop() {
				Truncate(c.s, 20)
			}
		})
	}
}
