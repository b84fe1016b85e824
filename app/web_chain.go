package app

import (
	"context"

	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/web"
)

// webChain gives /audit the chain's status from gate.ChainCheck, which hashes a bounded
// number of entries per page view and remembers how far it got.
type webChain struct{ c *gate.ChainCheck }

func (w webChain) ChainStatus(ctx context.Context) (web.ChainStatus, error) {
	st, err := w.c.Status(ctx)
	if err != nil {
		return web.ChainStatus{}, err
	}
	return web.ChainStatus{VerifiedUpTo: st.VerifiedUpTo, Last: st.Last, FirstBad: st.FirstBad, Problem: st.Problem,
		CheckedAt: st.CheckedAt, SweptAt: st.SweptAt}, nil
}
