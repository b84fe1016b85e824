package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func insertApproval(t *testing.T, db *DB, id string, quorum int) {
	t.Helper()
	write(t, db, func(tx *Tx) error {
		ok, err := InsertApproval(tx, ApprovalRow{ID: id, Service: "checkout", Environment: "production", Origin: "api", OriginKey: "req-" + id,
			Reasons: []byte(`[]`), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), Quorum: quorum})
		if err == nil && !ok {
			err = errors.New("not inserted")
		}
		return err
	})
}

func TestVotesCountOncePerApprover(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		ctx := context.Background()
		insertApproval(t, db, "ap-q2", 2)
		insertApproval(t, db, "ap-q0", 0) // unset: one click decides, as before quorums
		if r, err := db.GetApproval(ctx, "ap-q0"); err != nil || r.Quorum != 1 {
			t.Fatalf("approval stored without a quorum = %+v, %v; want quorum 1", r, err)
		}
		if r, err := db.GetApproval(ctx, "ap-q2"); err != nil || r.Quorum != 2 {
			t.Fatalf("quorum-2 approval = %+v, %v", r, err)
		}
		if vs, err := db.Votes(ctx, "ap-q2"); err != nil || vs == nil || len(vs) != 0 {
			t.Fatalf("votes before any = %#v, %v; want an empty list", vs, err)
		}
		for i, want := range []bool{true, false} {
			write(t, db, func(tx *Tx) error {
				added, err := AddVote(tx, "ap-q2", "U0ALICE", t0.Add(time.Duration(i)*time.Minute))
				if err == nil && added != want {
					err = fmt.Errorf("vote %d by the same approver: added %v, want %v", i+1, added, want)
				}
				return err
			})
		}
		write(t, db, func(tx *Tx) error {
			won, err := ApproveOnQuorum(tx, "ap-q2", "U0ALICE", []string{"U0ALICE", "U0BOB"}, t0)
			if err == nil && won {
				err = errors.New("one vote of a quorum of 2 approved the approval")
			}
			return err
		})
		write(t, db, func(tx *Tx) error {
			if _, err := AddVote(tx, "ap-q2", "U0BOB", t0.Add(2*time.Minute)); err != nil {
				return err
			}
			vs, err := VotesTx(tx, "ap-q2")
			if err != nil || len(vs) != 2 || vs[0].Approver != "U0ALICE" || vs[1].Approver != "U0BOB" || !vs[0].At.Equal(t0) {
				return fmt.Errorf("votes in the transaction = %+v, %v", vs, err)
			}
			// Alice is no longer an approver: her stored vote does not count.
			if won, err := ApproveOnQuorum(tx, "ap-q2", "U0BOB", []string{"U0BOB"}, t0.Add(2*time.Minute)); err != nil || won {
				return fmt.Errorf("approved with a vote from someone no longer eligible: %v %v", won, err)
			}
			won, err := ApproveOnQuorum(tx, "ap-q2", "U0BOB", []string{"U0ALICE", "U0BOB"}, t0.Add(2*time.Minute))
			if err == nil && !won {
				err = errors.New("the second distinct vote did not approve")
			}
			return err
		})
		r, err := db.GetApproval(ctx, "ap-q2")
		if err != nil || r.State != "approved" || r.DecidedBy != "U0BOB" || !r.DecidedAt.Equal(t0.Add(2*time.Minute)) {
			t.Fatalf("approval after the quorum = %+v, %v", r, err)
		}
	})
}

// Last votes cast concurrently through two handles (two replicas on PostgreSQL) approve the
// approval exactly once, and the loser's vote is still recorded.
func TestQuorumIsReachedOnce(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		a := open(DefaultOptions())
		b := a
		if a.Driver() == DriverPostgres {
			b = open(DefaultOptions())
		}
		ctx := context.Background()
		insertApproval(t, a, "ap-race", 3)
		var wins atomic.Int32
		var wg sync.WaitGroup
		const voters = 12
		var allVoters []string
		for i := range voters {
			allVoters = append(allVoters, fmt.Sprintf("U%02d", i))
		}
		for i := range voters {
			db := a
			if i%2 == 1 {
				db = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := db.Writer.Do(ctx, func(tx *Tx) error {
					if _, err := AddVote(tx, "ap-race", fmt.Sprintf("U%02d", i), t0.Add(time.Duration(i)*time.Second)); err != nil {
						return err
					}
					won, err := ApproveOnQuorum(tx, "ap-race", fmt.Sprintf("U%02d", i), allVoters, t0.Add(time.Minute))
					if won {
						wins.Add(1)
					}
					return err
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d voters approved, want 1", wins.Load())
		}
		vs, err := b.Votes(ctx, "ap-race")
		if err != nil || len(vs) != voters {
			t.Fatalf("votes = %d, %v; want %d", len(vs), err, voters)
		}
		if r, err := a.GetApproval(ctx, "ap-race"); err != nil || r.State != "approved" {
			t.Fatalf("approval = %+v, %v", r, err)
		}
	})
}
