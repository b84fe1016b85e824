package app

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/releaseops/releaseops/config"
)

func TestGitHubClientsFromConfig(t *testing.T) {
	none := newEnv(t, nil)
	if c, err := none.app.githubClients(); c != nil || err != nil {
		t.Errorf("without credentials: %v, %v; want nil, nil", c, err)
	}

	tok := newEnv(t, func(c *config.Config) { c.GitHub.Token = config.NewSecret("ghp_for_tests") })
	c1, err := tok.app.githubClients()
	if err != nil || c1 == nil || c1.IsApp() {
		t.Fatalf("token: %v, %v", c1, err)
	}
	if c2, _ := tok.app.githubClients(); c2 != c1 {
		t.Error("githubClients built the clients twice")
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	app := newEnv(t, func(c *config.Config) {
		c.GitHub.Token = config.NewSecret("ghp_for_tests") // the App wins
		c.GitHub.AppID = 12345
		c.GitHub.PrivateKey = config.NewSecret(string(keyPEM))
		c.GitHub.APIURL = "https://ghe.example.com/api/v3"
	})
	c3, err := app.app.githubClients()
	if err != nil || c3 == nil || !c3.IsApp() {
		t.Fatalf("app: %v, %v", c3, err)
	}
	if got := c3.BaseURL().String(); got != "https://ghe.example.com/api/v3/" {
		t.Errorf("BaseURL() = %s", got)
	}
}
