package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"

	"github.com/releaseops/releaseops/config"
)

// auditKeyFile is where a loopback server on SQLite keeps the key it generated when
// audit.signing_key is not set: beside the database file.
func auditKeyFile(cfg *config.Config) string { return cfg.Storage.SQLitePath + ".audit-key" }

// ensureAuditKey gives a loopback server on SQLite (the demo, a laptop) with anchors on and no
// audit.signing_key a key of its own: generated once into auditKeyFile (0600) and announced
// with its public key, then reused, so that checkpoints of every run verify with one key.
// Anywhere else the config names the key (validation refuses a non-loopback server without
// one; a loopback one on PostgreSQL runs without anchors and says so).
func ensureAuditKey(cfg *config.Config, stdout io.Writer) error {
	if cfg.Audit.AnchorInterval <= 0 || cfg.Audit.SigningKey.IsSet() || !loopbackAddr(cfg.Listen) || cfg.Storage.Driver == "postgres" {
		return nil
	}
	path := auditKeyFile(cfg)
	key, err := readAuditKeyFile(path)
	if err == nil {
		cfg.Audit.SigningKey = config.NewSecret(base64.StdEncoding.EncodeToString(key.Seed()))
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	_, key, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate an audit signing key: %w", err)
	}
	seed := base64.StdEncoding.EncodeToString(key.Seed())
	if err := os.WriteFile(path, []byte(seed+"\n"), 0o600); err != nil {
		return fmt.Errorf("save the generated audit signing key: %w", err)
	}
	cfg.Audit.SigningKey = config.NewSecret(seed)
	fmt.Fprintf(stdout, "audit.signing_key is not set: audit checkpoints of this loopback server are signed with a key generated into %s (keep it private).\n"+
		"  its public key, for `releaseops audit verify --public-key`: %s\n", path, base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)))
	return nil
}

// readAuditKeyFile reads a generated key, refusing one that group or others can read.
func readAuditKeyFile(path string) (ed25519.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: the audit signing key is readable by group or others (mode %04o); chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := config.ParseAuditKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// auditPublicKey is the key `audit verify` checks checkpoints with: --public-key, else the
// public half of audit.signing_key, else of the key a loopback server generated.
func auditPublicKey(flag string, cfg *config.Config) (ed25519.PublicKey, error) {
	if flag != "" {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(flag))
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("--public-key: want a base64 Ed25519 public key (32 bytes), as serve or `audit keygen` printed it")
		}
		return ed25519.PublicKey(b), nil
	}
	key, err := cfg.AuditKey()
	if err != nil {
		return nil, fmt.Errorf("audit.signing_key: %w", err)
	}
	if key == nil && cfg.Storage.Driver != "postgres" {
		if k, err := readAuditKeyFile(auditKeyFile(cfg)); err == nil {
			key = k
		}
	}
	if key == nil {
		return nil, nil
	}
	return key.Public().(ed25519.PublicKey), nil
}

func loopbackAddr(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

func runAuditKeygen(stdout io.Writer) error {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	fmt.Fprintf(stdout, "audit.signing_key (a secret; e.g. RELEASEOPS_AUDIT_SIGNING_KEY): %s\npublic key (for audit verify --public-key; publish it): %s\n",
		base64.StdEncoding.EncodeToString(key.Seed()), base64.StdEncoding.EncodeToString(pub))
	return nil
}
