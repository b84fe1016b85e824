// Package integrations_test checks what every webhook source promises, whatever its provider:
// the conformance kit of the four releaseops.Source implementations.
package integrations_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/integrations/deploy"
	"github.com/releaseops/releaseops/integrations/github"
	"github.com/releaseops/releaseops/integrations/pagerduty"
	"github.com/releaseops/releaseops/integrations/terraform"
)

const secret = "conformance-secret"

type source struct {
	src        releaseops.Source
	unset      releaseops.Source // the same source with no secret configured
	name       string
	sigHeader  string
	sign       func(body []byte) string
	parseHeads http.Header
}

func sources() []source {
	gh := http.Header{}
	gh.Set(github.EventHeader, "ping")
	gh.Set(github.DeliveryHeader, "d-1")
	return []source{
		{github.New(secret, github.Options{}), github.New("", github.Options{}), releaseops.SourceGitHub, github.SignatureHeader,
			func(b []byte) string { return github.Sign(secret, b) }, gh},
		{pagerduty.New([]string{secret}), pagerduty.New(nil), releaseops.SourcePagerDuty, pagerduty.SignatureHeader,
			func(b []byte) string { return pagerduty.Sign(secret, b) }, http.Header{}},
		{deploy.New(secret), deploy.New(""), releaseops.SourceDeploy, deploy.SignatureHeader,
			func(b []byte) string { return deploy.Sign(secret, b) }, http.Header{}},
		{terraform.New(secret), terraform.New(""), releaseops.SourceTerraform, terraform.SignatureHeader,
			func(b []byte) string { return terraform.Sign(secret, b) }, http.Header{}},
	}
}

func code(err error) string {
	var e *releaseops.Error
	if !errors.As(err, &e) {
		return "not a *releaseops.Error"
	}
	return e.Code
}

func TestConformance(t *testing.T) {
	body := []byte(`{"hello":"world"}`)
	for _, s := range sources() {
		t.Run(s.name, func(t *testing.T) {
			if s.src.Name() != s.name {
				t.Errorf("Name() = %q", s.src.Name())
			}
			good := s.sign(body)
			h := http.Header{}
			h.Set(s.sigHeader, good)
			if err := s.src.Verify(h, body); err != nil {
				t.Errorf("Verify(signed) = %v", err)
			}
			if c := code(s.unset.Verify(h, body)); c != releaseops.EUNAVAILABLE {
				t.Errorf("no secret: code %s, want %s (never accept unsigned)", c, releaseops.EUNAVAILABLE)
			}

			other := []byte(`{"hello":"there"}`)
			bad := []struct {
				name   string
				header string
				body   []byte
				says   string
			}{
				{"missing", "", body, "missing " + s.sigHeader},
				{"malformed", "!!", body, "malformed " + s.sigHeader},
				{"mismatch", s.sign(other), body, s.sigHeader},
			}
			for _, b := range bad {
				h := http.Header{}
				if b.header != "" {
					h.Set(s.sigHeader, b.header)
				}
				err := s.src.Verify(h, b.body)
				if c := code(err); c != releaseops.EUNAUTHORIZED {
					t.Errorf("%s: code %s (%v), want %s", b.name, c, err, releaseops.EUNAUTHORIZED)
					continue
				}
				msg := err.Error()
				if !strings.Contains(msg, b.says) {
					t.Errorf("%s: %q does not say %q", b.name, msg, b.says)
				}
				for _, sig := range []string{good, s.sign(other)} {
					hexPart := sig[strings.LastIndex(sig, "=")+1:]
					if strings.Contains(msg, hexPart) {
						t.Errorf("%s: %q shows a signature", b.name, msg)
					}
				}
				if strings.Contains(msg, secret) {
					t.Errorf("%s: %q shows the secret", b.name, msg)
				}
			}

			for _, garbage := range []string{"", "not json", "[1,2,3]"} {
				_, err := s.src.Parse(s.parseHeads, []byte(garbage))
				if c := code(err); c != releaseops.EMALFORMED {
					t.Errorf("Parse(%q): code %s (%v), want %s", garbage, c, err, releaseops.EMALFORMED)
				}
			}
		})
	}
}
