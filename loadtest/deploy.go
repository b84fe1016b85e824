package loadtest

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/releaseops/releaseops/integrations/deploy"
)

// DeliveryHeader carries a request's dedupe key outside the body, for the verify-and-commit
// ceiling, which must not parse JSON. The product ignores it.
const DeliveryHeader = "X-Bench-Delivery"

var (
	deployStatuses   = []string{"started", "succeeded", "succeeded", "succeeded", "failed", "rolled_back"}
	deployStrategies = []string{"canary", "rolling", "blue_green", "big_bang"}
	deployEnvs       = []string{"production", "production", "staging"}
)

// DeployBody returns a valid deploy event (SPEC §3.3) for service, padded with a realistic
// list of commits to about size bytes (real pipelines send change lists, links and metadata).
func DeployBody(id, service string, size int, r *rand.Rand, now time.Time) []byte {
	b := make([]byte, 0, size+128)
	b = append(b, `{"id":"`...)
	b = append(b, id...)
	b = append(b, `","service":"`...)
	b = append(b, service...)
	b = append(b, `","environment":"`...)
	b = append(b, deployEnvs[r.IntN(len(deployEnvs))]...)
	b = append(b, `","status":"`...)
	b = append(b, deployStatuses[r.IntN(len(deployStatuses))]...)
	b = append(b, `","kind":"deploy","version":"v1.`...)
	b = strconv.AppendInt(b, int64(r.IntN(500)), 10)
	b = append(b, `.0","commit_sha":"`...)
	b = appendSHA(b, r)
	b = append(b, `","previous_sha":"`...)
	b = appendSHA(b, r)
	b = append(b, `","strategy":"`...)
	b = append(b, deployStrategies[r.IntN(len(deployStrategies))]...)
	b = append(b, `","phases":`...)
	b = strconv.AppendInt(b, int64(1+r.IntN(4)), 10)
	b = append(b, `,"health_checks":true,"feature_flags":`...)
	b = strconv.AppendBool(b, r.IntN(2) == 0)
	b = append(b, `,"snapshot":true,"actor":"ci-bot","url":"https://ci.example.com/runs/`...)
	b = strconv.AppendInt(b, int64(r.IntN(1_000_000)), 10)
	b = append(b, `","started_at":"`...)
	b = now.Add(-12*time.Minute).UTC().AppendFormat(b, time.RFC3339)
	b = append(b, `","finished_at":"`...)
	b = now.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, `","changes":[`...)
	for i := 0; len(b) < size-110; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"sha":"`...)
		b = appendSHA(b, r)
		b = append(b, `","message":"Fix flaky retry in payment client (#`...)
		b = strconv.AppendInt(b, int64(r.IntN(100000)), 10)
		b = append(b, `)"}`...)
	}
	b = append(b, "]}"...)
	return b
}

func appendSHA(b []byte, r *rand.Rand) []byte {
	var raw [20]byte
	for i := 0; i < len(raw); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < len(raw); j++ {
			raw[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.AppendEncode(b, raw[:])
}

// SignedDeploy returns a POST of a signed deploy event to path (the product's
// /webhooks/deploy, or a ceiling handler) with its id also in DeliveryHeader.
func SignedDeploy(label, path, secret, id, service string, size int, r *rand.Rand, now time.Time) Request {
	body := DeployBody(id, service, size, r, now)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(deploy.SignatureHeader, deploy.Sign(secret, body))
	h.Set(DeliveryHeader, id)
	return Request{Label: label, Method: http.MethodPost, Path: path, Header: h, Body: body}
}

// deployTemplate is a pre-built deploy body with fixed-width holes for its id and its two
// timestamps, so that the generator's per-request work is a copy, two stamps and the HMAC the
// sender must compute anyway.
type deployTemplate struct {
	body              []byte
	slot              int // offset of the id
	started, finished int // offsets of started_at and finished_at (RFC 3339, UTC, 20 bytes)
}

// stampWidth is the width of a UTC RFC 3339 time without fractions: 2006-01-02T15:04:05Z.
const stampWidth = 20

// deployDuration is how long before its finished_at a generated deploy started.
const deployDuration = 12 * time.Minute

// templatesPerService is how many body variants each service gets.
const templatesPerService = 8

// idWidth is the width of the ids fixedID returns: run id (8), "-", 15 digits.
const idWidth = 24

func (m *Mix) buildDeploys() {
	r := rand.New(rand.NewPCG(1, 2))
	hole := strings.Repeat("#", idWidth)
	// A marker time whose two stamps are easy to find; each request overwrites them with its
	// own, as a pipeline reporting a deploy that just finished would send.
	marker := time.Date(1999, 9, 9, 9, 9, 9, 0, time.UTC)
	startedAt := []byte(`"started_at":"` + marker.Add(-deployDuration).Format(time.RFC3339) + `"`)
	finishedAt := []byte(`"finished_at":"` + marker.Format(time.RFC3339) + `"`)
	m.deploys = make([][]deployTemplate, len(m.Services))
	for i, svc := range m.Services {
		for j := 0; j < templatesPerService; j++ {
			b := DeployBody(hole, svc, m.BodyBytes, r, marker)
			m.deploys[i] = append(m.deploys[i], deployTemplate{body: b, slot: bytes.Index(b, []byte(hole)),
				started:  bytes.Index(b, startedAt) + len(`"started_at":"`),
				finished: bytes.Index(b, finishedAt) + len(`"finished_at":"`)})
		}
	}
}

// fixedID returns a fresh delivery id of exactly idWidth bytes.
func (m *Mix) fixedID() string {
	run := (m.RunID + "00000000")[:8]
	return fmt.Sprintf("%s-%015d", run, m.seq.Add(1))
}
