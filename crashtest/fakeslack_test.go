package crashtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// fakeSlack records every chat.postMessage and answers conversations.history with what was
// posted, metadata included, as Slack does: what the outbox needs to find a post that was in
// flight when the process was killed.
type fakeSlack struct {
	srv   *httptest.Server
	mu    sync.Mutex
	posts map[string]int              // outbox key (from the message metadata) → posts
	byCh  map[string][]map[string]any // channel → messages, oldest first
	seq   int
}

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{posts: map[string]int{}, byCh: map[string][]map[string]any{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/chat.postMessage":
		var md struct {
			EventType    string         `json:"event_type"`
			EventPayload map[string]any `json:"event_payload"`
		}
		_ = json.Unmarshal([]byte(r.Form.Get("metadata")), &md)
		key, _ := md.EventPayload["key"].(string)
		f.posts[key]++
		f.seq++
		ts := fmt.Sprintf("1795000000.%06d", f.seq)
		ch := r.Form.Get("channel")
		f.byCh[ch] = append(f.byCh[ch], map[string]any{"type": "message", "ts": ts, "text": r.Form.Get("text"),
			"metadata": map[string]any{"event_type": md.EventType, "event_payload": md.EventPayload}})
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": ch, "ts": ts})
	case "/chat.update":
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": r.Form.Get("channel"), "ts": r.Form.Get("ts")})
	case "/conversations.history":
		msgs := f.byCh[r.Form.Get("channel")]
		// Newest first, as Slack answers.
		out := make([]map[string]any, 0, len(msgs))
		for i := len(msgs) - 1; i >= 0; i-- {
			out = append(out, msgs[i])
		}
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "messages": out, "has_more": false})
	default:
		json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "unknown_method"})
	}
}

// duplicates returns the outbox keys posted more than once, and how many posts there were.
func (f *fakeSlack) duplicates() (dups map[string]int, total int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	dups = map[string]int{}
	for k, n := range f.posts {
		total += n
		if n > 1 {
			dups[k] = n
		}
	}
	return dups, total
}
