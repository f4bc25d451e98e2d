package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func check(t *testing.T, name, want string, mode fs.FileMode) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil || string(data) != want {
		t.Errorf("%s holds %q (%v), want %q", filepath.Base(name), data, err, want)
	}
	if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != mode {
		t.Errorf("%s: mode %v (%v), want %v", filepath.Base(name), fi.Mode().Perm(), err, mode)
	}
	if entries, _ := os.ReadDir(filepath.Dir(name)); len(entries) != 1 {
		t.Errorf("directory holds %d files, want 1 (no temporary files left)", len(entries))
	}
}

func TestWriteFile(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	if err := WriteFile(name, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	check(t, name, "one", 0o600)
	// A replacement takes the mode asked for, whatever the umask says.
	if err := WriteFile(name, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	check(t, name, "two", 0o644)
}

func TestWriteAborted(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	if err := WriteFile(name, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(name, 0o600, func(w io.Writer) error {
		if _, err := io.WriteString(w, "half"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("Write = %v, want the fill error", err)
	}
	check(t, name, "old", 0o600)
	if err := WriteFile(filepath.Join(name, "under-a-file"), nil, 0o600); err == nil {
		t.Error("wrote below a regular file")
	}
}

func TestCreate(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	if err := Create(name, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Create(name, []byte("second"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over an existing file = %v, want fs.ErrExist", err)
	}
	check(t, name, "first", 0o600)
}

func TestCreateRace(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = Create(name, []byte{byte('a' + i)}, 0o600) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, fs.ErrExist):
			t.Error(err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent creates succeeded, want 1", won, n)
	}
}
