package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// public_url, when not set, is the address serve actually bound; set, it is kept.
func TestPublicURLFromBoundListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	want := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if got := boundURL(ln.Addr()); got != want {
		t.Fatalf("boundURL = %q, want %q", got, want)
	}
	if got := boundURL(&net.TCPAddr{IP: net.IPv4zero, Port: port}); got != want {
		t.Fatalf("unspecified host: boundURL = %q, want %q", got, want)
	}

	dir := t.TempDir()
	without := filepath.Join(dir, "without.yaml")
	with := filepath.Join(dir, "with.yaml")
	os.WriteFile(without, []byte("listen: 127.0.0.1:0\n"), 0o600)
	os.WriteFile(with, []byte("listen: 127.0.0.1:0\npublic_url: https://releaseops.example.com\n"), 0o600)
	for _, c := range []struct {
		name, path string
		env        []string
		want       bool
	}{
		{"embedded defaults", "", nil, false},
		{"file without public_url", without, nil, false},
		{"file with public_url", with, nil, true},
		{"file from RELEASEOPS_CONFIG", "", []string{"RELEASEOPS_CONFIG=" + with}, true},
		{"env", without, []string{"RELEASEOPS_PUBLIC_URL=https://x.example.com"}, true},
	} {
		got, err := publicURLSet(c.path, c.env)
		if err != nil || got != c.want {
			t.Errorf("%s: publicURLSet = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}
