package config

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// checkPrivateKey checks that a GitHub App private key is an RSA key in PEM, the form GitHub
// downloads ("-----BEGIN RSA PRIVATE KEY-----", PKCS#1) or PKCS#8. The error never shows
// the key.
func checkPrivateKey(v string) error {
	block, rest := pem.Decode([]byte(strings.TrimSpace(v)))
	if block == nil {
		if strings.Contains(v, "\\n") {
			return errors.New("not a PEM block: the key's line breaks are written as \\n; use file:/path/to/key.pem or a YAML block scalar (|)")
		}
		return errors.New("not a PEM block: want the .pem file GitHub generated for the App (-----BEGIN RSA PRIVATE KEY-----), or file:/path/to/key.pem")
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return errors.New("has text after the PEM block; want exactly one key")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			return fmt.Errorf("the RSA PRIVATE KEY block does not parse: %s", pkcsReason(err))
		}
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return fmt.Errorf("the PRIVATE KEY block does not parse: %s", pkcsReason(err))
		}
		if _, ok := k.(*rsa.PrivateKey); !ok {
			return errors.New("the PRIVATE KEY block is not an RSA key; GitHub Apps sign with RSA")
		}
	default:
		return fmt.Errorf("a PEM block of type %q is not a private key; want RSA PRIVATE KEY", block.Type)
	}
	return nil
}

// pkcsReason keeps x509's message (which names the structure, never the bytes).
func pkcsReason(err error) string {
	return strings.TrimPrefix(err.Error(), "x509: ")
}
