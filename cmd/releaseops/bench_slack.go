package main

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/releaseops/releaseops/config"
)

// fakeSlack answers the Web API calls the outbox makes (chat.postMessage, chat.update,
// conversations.history for in-doubt recovery) as Slack does, so that `bench --slack-posts`
// runs the service as users do: with slack.bot_token set, every post really sent.
type fakeSlack struct {
	srv   *http.Server
	url   string
	posts atomic.Int64
}

func startFakeSlack() (*fakeSlack, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fakeSlack{url: "http://" + ln.Addr().String() + "/api/"}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		n := f.posts.Add(1)
		ts := "1700000000." + strconv.FormatInt(100000+n, 10)
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "ts": ts, "channel": "C0BENCH", "messages": []any{}}) //nolint:errcheck
	})
	f.srv = &http.Server{Handler: mux}
	go f.srv.Serve(ln) //nolint:errcheck // ends at close
	return f, nil
}

func (f *fakeSlack) configure(cfg *config.Config) {
	cfg.Slack.BotToken = config.NewSecret("xoxb-bench-0000000000")
	cfg.Slack.APIURL = f.url
}

func (f *fakeSlack) close() { f.srv.Close() }
