package config

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"path/filepath"

	"github.com/releaseops/releaseops"
)

// Audit anchors the audit log outside the database. The hash chain catches an entry edited or
// removed in the middle; it cannot catch the newest entries deleted, because what is left is
// still a valid chain. A checkpoint — sequence number, head hash, time — signed with an
// Ed25519 key and published where the database's owner cannot rewrite it (a Slack channel, a
// file on other storage) lets `releaseops audit verify` see a log that ends before a published
// checkpoint.
type Audit struct {
	// AnchorInterval is how often a checkpoint is written and published (and once at
	// shutdown); 0 turns anchors off.
	AnchorInterval releaseops.Duration `yaml:"anchor_interval"`
	// SigningKey is the Ed25519 private key, base64 (the 32-byte seed or the 64-byte key).
	// Empty on a loopback demo: one is generated and printed once with its public key.
	SigningKey Secret `yaml:"signing_key"`
	// AnchorFile, if set, gets each checkpoint appended as a JSON line.
	AnchorFile string `yaml:"anchor_file"`
	// AnchorChannel, if set, gets each checkpoint posted (through the outbox).
	AnchorChannel string `yaml:"anchor_channel"`
}

// AuditKey decodes audit.signing_key; nil when it is not set.
func (c *Config) AuditKey() (ed25519.PrivateKey, error) {
	return ParseAuditKey(c.Audit.SigningKey.Value())
}

// ParseAuditKey decodes a base64 Ed25519 private key (seed or full key); "" gives nil.
func ParseAuditKey(v string) (ed25519.PrivateKey, error) {
	if v == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	switch len(b) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case ed25519.PrivateKeySize:
		k := ed25519.PrivateKey(b)
		if !k.Public().(ed25519.PublicKey).Equal(ed25519.NewKeyFromSeed(k.Seed()).Public()) {
			return nil, fmt.Errorf("the 64-byte key's public half does not match its seed")
		}
		return k, nil
	}
	return nil, fmt.Errorf("want a 32-byte seed or a 64-byte Ed25519 key, got %d bytes", len(b))
}

func (c *Config) validateAudit(add func(path, format string, args ...any)) {
	if c.Audit.AnchorInterval < 0 {
		add("audit.anchor_interval", "must not be negative (0 turns anchors off)")
	}
	if _, err := c.AuditKey(); err != nil {
		add("audit.signing_key", "%v (generate one with `releaseops audit keygen`)", err)
	}
	if c.Audit.AnchorInterval > 0 && !c.Audit.SigningKey.IsSet() && !loopbackListen(c.Listen) {
		add("audit.signing_key", "required when audit.anchor_interval is set and listen is not a loopback address (`releaseops audit keygen` makes one); or set audit.anchor_interval: 0")
	}
	if f := c.Audit.AnchorFile; f != "" && !filepath.IsAbs(f) && filepath.Clean(f) != f {
		add("audit.anchor_file", "want a clean path, got %q", f)
	}
}
