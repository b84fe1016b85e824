package outbox

import (
	"context"
	"sync"
	"testing"
	"time"
)

// blocking holds every Send of its kind until released, like a composer waiting on GitHub.
type blocking struct {
	started chan string
	release chan struct{}
}

func (b *blocking) Send(_ context.Context, m *Stored) (string, error) {
	b.started <- m.Key
	<-b.release
	return "ok", nil
}

// recorder reports each message it sends.
type recorder struct{ sent chan string }

func (r *recorder) Send(_ context.Context, m *Stored) (string, error) {
	r.sent <- m.Key
	return "ts-" + m.Key, nil
}

// A target whose sends are slow holds back only its own queue: a post queued to another
// target while it is being sent goes out at once, not after the slow one's round.
func TestRunDoesNotHoldOneTargetBehindAnother(t *testing.T) {
	db, o, c := setup(t, "")
	slow := &blocking{started: make(chan string, 4), release: make(chan struct{})}
	fast := &recorder{sent: make(chan string, 4)}
	o.Register("compose", slow)
	o.Register("slack.post", fast)
	enqueue(t, db, c.Now(), Message{Key: "notes1", Kind: "compose", Target: "release_notes:a"})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); o.Run(ctx) }()
	defer func() {
		cancel()
		close(slow.release)
		wg.Wait()
	}()
	select {
	case <-slow.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow message was never attempted")
	}
	enqueue(t, db, c.Now(), Message{Key: "approval", Kind: "slack.post", Target: "C1"})
	o.Wake()
	select {
	case k := <-fast.sent:
		if k != "approval" {
			t.Fatalf("sent %s", k)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the post waited behind the slow target")
	}
}
