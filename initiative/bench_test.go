package initiative

import (
	"testing"

	"github.com/releaseops/releaseops/scoring"
)

// BenchmarkReplay30Days is one service's burn-up replay over 30 days: the cost a burn-up pays
// per covered service once a day.
func BenchmarkReplay30Days(b *testing.B) {
	e, err := scoring.Compile(scoring.DefaultConfig(), nil, "https://ro.example")
	if err != nil {
		b.Fatal(err)
	}
	services, facts := history()
	in, _ := Compile(Spec{ID: "x", Name: "X", Target: Target{Signal: "default_branch_protected"}, Deadline: "2027-01-15"}, KnownFrom(scoring.DefaultConfig()))
	at := in.BurnUpDays(t0)
	b.ResetTimer()
	for b.Loop() {
		Replay(e, services[1], facts["beta"], nil, at)
	}
}
