package bot

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/releaseops/releaseops/outbox"
)

func TestResponseURLMustBeASlackHost(t *testing.T) {
	var hits atomic.Int32
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer inside.Close()
	s := &ResponseSender{HTTP: inside.Client(), AllowedHosts: []string{"hooks.slack.com"}}
	payload, _ := json.Marshal(ResponsePayload{ResponseURL: inside.URL + "/internal/admin", Message: TextMessage("hi")})
	_, err := s.Send(context.Background(), &outbox.Stored{Message: outbox.Message{Key: "k", Payload: payload}})
	var re *outbox.RetryableError
	if err == nil || errors.As(err, &re) || !strings.Contains(err.Error(), "not a Slack host") {
		t.Fatalf("err = %v, want a final refusal", err)
	}
	if hits.Load() != 0 {
		t.Fatal("the server sent a request to a host a signed request named")
	}
}
