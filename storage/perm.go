package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// privateFile makes sure the database file at path is private to the service user before
// SQLite touches it. A missing file is created 0600, so SQLite (whose unix VFS gives the
// -wal and -shm files the database file's permissions) creates those 0600 too. An existing
// file readable or writable by group or others is refused unless allowShared is set: it holds
// raw webhook bodies, approvals and the audit log.
func privateFile(path string, allowShared bool) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
		// The umask can only remove bits; make the mode exactly 0600 anyway.
		if err := os.Chmod(path, 0o600); err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
		return nil
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("create %s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if mode := st.Mode().Perm(); mode&0o077 != 0 && !allowShared {
		return fmt.Errorf("database file %s is readable or writable by group or others (mode %v): chmod 600 it (and its -wal and -shm files), or set storage.allow_shared_file: true to open it anyway", path, mode)
	}
	return nil
}
