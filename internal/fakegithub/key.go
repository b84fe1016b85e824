package fakegithub

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"sync"
)

// appKey is one key per process: a 2048-bit RSA key (what GitHub issues) takes a noticeable
// moment to generate, and every test of a binary can share it.
var appKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// AppKey returns a GitHub App private key generated for this process, and its PEM (PKCS#1,
// as GitHub's downloaded keys are) for github.private_key.
func AppKey() (*rsa.PrivateKey, []byte, error) {
	k, err := appKey()
	if err != nil {
		return nil, nil, err
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
}
