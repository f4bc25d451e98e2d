// Package atomicfile owns the server's one way of writing a file that must
// appear whole or not at all: the shared secrets beside the database (token
// pepper, signing key and certificate), the registry's certificate bundle
// and a backup copy of the database.
//
// Every function writes to a temporary file in the destination's directory
// (so that the final step stays on one file system), syncs it, sets its
// mode, puts it in place with one rename or link, and syncs the directory
// so that the new name survives a crash. A failure leaves the destination as
// it was and removes the temporary file.
//
// It is ours rather than github.com/google/renameio because Create, which
// must never replace a file another process wrote first, is a hard link,
// and renameio only renames.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces name with what fill writes, with mode perm (not changed by
// the umask). An error from fill aborts the write and is returned as is.
func Write(name string, perm fs.FileMode, fill func(io.Writer) error) error {
	return write(name, perm, fill, os.Rename)
}

// WriteFile replaces name with data, with mode perm.
func WriteFile(name string, data []byte, perm fs.FileMode) error {
	return Write(name, perm, writeAll(data))
}

// Create writes data to name, with mode perm, unless name exists: then it
// leaves that file alone and returns an error wrapping fs.ErrExist. Of two
// processes creating the same file at once, exactly one succeeds.
func Create(name string, data []byte, perm fs.FileMode) error {
	return write(name, perm, writeAll(data), os.Link)
}

func writeAll(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}
}

// write fills a temporary file beside name and puts it in place with
// place (os.Rename or os.Link).
func write(name string, perm fs.FileMode, fill func(io.Writer) error, place func(tmp, name string) error) error {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	// After a rename there is nothing left to remove; after a link, or a
	// failure, the temporary name goes.
	defer os.Remove(tmp)
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	err = f.Chmod(perm)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := place(tmp, name); err != nil {
		var linkErr *os.LinkError
		if errors.As(err, &linkErr) {
			err = linkErr.Err // the temporary name says nothing to the reader
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return syncDir(dir)
}

// syncDir makes a new directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
