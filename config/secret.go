package config

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Secret holds a credential. It never prints: fmt, slog, JSON and YAML all show <redacted>,
// so a config dump or an error message cannot leak it. Use Value to read it.
//
// In YAML a secret is either the value itself or "file:/path/to/file", whose content (trimmed)
// is the value. A secret file readable by group or others is refused.
type Secret struct {
	value string
	file  string
}

// NewSecret wraps a value.
func NewSecret(v string) Secret { return Secret{value: v} }

// Value returns the secret itself.
func (s Secret) Value() string { return s.value }

// IsSet reports whether the secret has a value.
func (s Secret) IsSet() bool { return s.value != "" }

func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return "<redacted>"
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return s.String() }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a string")
	}
	return s.set(n.Value)
}

func (s *Secret) set(raw string) error {
	if path, ok := strings.CutPrefix(raw, "file:"); ok {
		v, err := readSecretFile(path)
		if err != nil {
			return err
		}
		*s = Secret{value: v, file: path}
		return nil
	}
	*s = Secret{value: raw}
	return nil
}

func readSecretFile(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("secret file %s is readable by group or others (mode %v); chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
