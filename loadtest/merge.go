package loadtest

// Merge returns one report of several runs of the same loads: every 2xx latency, status and
// error of each, over the sum of their measured times. The bench alternates short runs of a
// ceiling and the product so that both see the same neighbours on a shared machine, and
// reports each side over all of its runs.
func Merge(reps ...*Report) *Report {
	out := newReport()
	for _, r := range reps {
		if r == nil {
			continue
		}
		out.merge(r)
		out.Elapsed += r.Elapsed
	}
	return out
}
