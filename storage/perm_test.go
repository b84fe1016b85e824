package storage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewDatabaseFilesArePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "private.db")
	db, err := Open(context.Background(), path, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Writer.Do(context.Background(), func(tx *Tx) error {
		_, err := tx.Exec(`CREATE TABLE IF NOT EXISTS perm_probe (x INTEGER)`)
		if err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO perm_probe (x) VALUES (1)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// A read makes sure the -shm file exists too.
	if err := db.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if mode := st.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %v, want -rw-------", p, mode)
		}
	}
}

func TestSharedDatabaseFileIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	_, err := Open(context.Background(), path, DefaultOptions())
	if err == nil {
		t.Fatal("a 0644 database file was opened")
	}
	for _, want := range []string{path, "-rw-r--r--", "storage.allow_shared_file: true"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Error("a -wal file was created beside a refused database")
	}

	opts := DefaultOptions()
	opts.AllowSharedFile = true
	db, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("with AllowSharedFile: %v", err)
	}
	if err := db.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("opening with AllowSharedFile changed the mode to %v", st.Mode().Perm())
	}
}

func TestGroupWritableDatabaseFileIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "group.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o620); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), path, DefaultOptions()); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("a group-writable database file: err = %v", err)
	}
}
