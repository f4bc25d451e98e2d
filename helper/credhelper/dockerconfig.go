package credhelper

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/portusproject/portus/helper/internal/filelock"
)

// Docker's configuration file, which `login` and `logout` edit for one
// thing only: the registry's entry in "credHelpers", so that docker asks
// this helper for that registry. Every other field is kept as it was
// (decoded as raw JSON values, written back unchanged), and the file is
// replaced atomically (a temporary file beside it, renamed over it) with
// the mode it had, so that docker never reads half a file; see
// setCredHelper for how concurrent writers are kept from losing each
// other's changes.

// credHelperName is the credHelpers value that names this helper.
const credHelperName = "portus"

// DockerConfigPath is docker's configuration file: $DOCKER_CONFIG/config.json,
// or ~/.docker/config.json.
func DockerConfigPath() (string, error) {
	if dir := os.Getenv("DOCKER_CONFIG"); dir != "" {
		return filepath.Join(dir, "config.json"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding docker's configuration file: %w; set DOCKER_CONFIG", err)
	}
	return filepath.Join(home, ".docker", "config.json"), nil
}

// configLockWait is how long login and logout wait for another one
// editing the same docker configuration file (a variable for the tests).
var configLockWait = 15 * time.Second

// configAttempts is how often an edit is tried when another program
// (docker login, say, which takes no lock) rewrites the file meanwhile.
const configAttempts = 3

// errConfigChanged says the file changed between reading and replacing it.
var errConfigChanged = errors.New("changed while it was being edited")

// testHookBeforeReplace, when set by a test, runs after an edit is ready
// and before the file is checked and replaced: the moment another program
// could write it.
var testHookBeforeReplace func(path string)

// setCredHelper sets credHelpers[key] to helper in the docker
// configuration file at path, or, with helper "", removes the entry if it
// names this helper. It returns what the entry was before ("" for none)
// and whether the file changed. A missing file, or one that holds only
// null, is taken for an empty object; a missing one is created (mode
// 0600, its directory 0700).
//
// The read-modify-write holds the lock file path + ".lock" (path being
// the file a symbolic link points to), so that two logins or logouts take
// turns. docker itself takes no lock, so just before the new file replaces
// the old one the old one is read again, and when it changed (a docker
// login wrote its "auths" meanwhile) the edit starts over from what is
// there now, rather than drop that change.
func setCredHelper(path, key, helper string) (before string, changed bool, err error) {
	path, err = configTarget(path)
	if err != nil {
		return "", false, err
	}
	unlock, err := filelock.Lock(path+".lock", configLockWait)
	switch {
	case errors.Is(err, filelock.ErrTimeout):
		return "", false, fmt.Errorf("another %s login or logout is editing docker's configuration %s (%w): wait for it to finish, then run the command again; it was not changed",
			Name, path, err)
	case errors.Is(err, filelock.ErrUnsupported):
		return "", false, fmt.Errorf("cannot lock docker's configuration %s for editing (%w): edit its \"credHelpers\" yourself; it was not changed", path, err)
	case err != nil:
		return "", false, fmt.Errorf("cannot lock docker's configuration %s for editing (%w): check that you may create and write %s, then run the command again; it was not changed",
			path, err, path+".lock")
	}
	defer unlock()
	for range configAttempts {
		before, changed, err = editCredHelper(path, key, helper)
		if !errors.Is(err, errConfigChanged) {
			return before, changed, err
		}
	}
	return "", false, fmt.Errorf("docker's configuration %s %v %d times in a row (another program keeps writing it): run the command again when it is done; it was not changed",
		path, errConfigChanged, configAttempts)
}

// editCredHelper is one attempt of setCredHelper, under its lock; it
// fails with errConfigChanged when the file changed before the new one
// could replace it.
func editCredHelper(path, key, helper string) (before string, changed bool, err error) {
	data, mode, err := readDockerConfig(path)
	if err != nil {
		return "", false, err
	}
	var top map[string]json.RawMessage
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &top); err != nil {
			return "", false, fmt.Errorf("docker's configuration %s is not a JSON object (%v): fix it, then run the command again; it was not changed", path, err)
		}
	}
	if top == nil { // no file, an empty one, or null
		top = map[string]json.RawMessage{}
	}
	helpers := map[string]string{}
	if raw, ok := top["credHelpers"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &helpers); err != nil {
			return "", false, fmt.Errorf(`"credHelpers" in docker's configuration %s is not an object of strings (%v): fix it, then run the command again; it was not changed`, path, err)
		}
	}
	if helpers == nil {
		helpers = map[string]string{}
	}
	before = helpers[key]
	switch {
	case helper != "" && before == helper:
		return before, false, nil
	case helper != "":
		helpers[key] = helper
	case before != credHelperName:
		return before, false, nil // not ours to remove
	default:
		delete(helpers, key)
	}
	if len(helpers) == 0 {
		delete(top, "credHelpers")
	} else if top["credHelpers"], err = json.Marshal(helpers); err != nil {
		return "", false, err
	}
	out, err := json.MarshalIndent(top, "", "\t")
	if err != nil {
		return "", false, err
	}
	unchanged := func() error {
		if testHookBeforeReplace != nil {
			testHookBeforeReplace(path)
		}
		now, _, err := readDockerConfig(path)
		switch {
		case err != nil:
			return err
		case !bytes.Equal(now, data):
			return errConfigChanged
		}
		return nil
	}
	if err := writeFileAtomic(path, append(out, '\n'), mode, unchanged); err != nil {
		if errors.Is(err, errConfigChanged) {
			return "", false, err
		}
		return "", false, fmt.Errorf("writing docker's configuration %s: %w", path, err)
	}
	return before, true, nil
}

// readDockerConfig returns the content and mode of the docker
// configuration file at path: nil and 0600 when there is none.
func readDockerConfig(path string) ([]byte, fs.FileMode, error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, 0o600, nil
	case err != nil:
		return nil, 0, fmt.Errorf("reading docker's configuration %s: %w", path, err)
	}
	mode := fs.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	return data, mode, nil
}

// configTarget is the file to replace for docker's configuration at path:
// the file a symbolic link points to, not the link, which the rename
// would turn into a plain file. A link to nothing is refused: writing
// there would also replace the link.
func configTarget(path string) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err == nil {
		return real, nil
	}
	st, lerr := os.Lstat(path)
	switch {
	case errors.Is(lerr, fs.ErrNotExist):
		return path, nil // no file yet: it is created
	case lerr == nil && st.Mode()&fs.ModeSymlink != 0:
		to, _ := os.Readlink(path)
		return "", fmt.Errorf("docker's configuration %s is a symbolic link to %s, which cannot be followed (%w): create the file it points to, or remove the link, then run the command again; it was not changed",
			path, to, err)
	}
	return "", fmt.Errorf("finding docker's configuration %s: %w", path, err)
}

// writeFileAtomic replaces path with data, giving it mode: written and
// synced to a temporary file in the same directory, then renamed over
// path if check, run just before, returns nil. The temporary file stays
// writable until it is in place: on Windows a read-only one (the
// attribute Chmod sets for a mode without 0200) could not be renamed
// over, or later replaced.
func writeFileAtomic(path string, data []byte, mode fs.FileMode, check func() error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".config.json.*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if err := f.Chmod(mode | 0o200); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := replaceFile(tmp, path, mode, check); err != nil {
		return err
	}
	if mode&0o200 == 0 {
		return os.Chmod(path, mode) // keep the original read-only
	}
	return nil
}
