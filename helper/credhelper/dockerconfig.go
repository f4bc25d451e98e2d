package credhelper

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Docker's configuration file, which `login` and `logout` edit for one
// thing only: the registry's entry in "credHelpers", so that docker asks
// this helper for that registry. Every other field is kept as it was
// (decoded as raw JSON values, written back unchanged), and the file is
// replaced atomically (a temporary file beside it, renamed over it) with
// the mode it had, so that docker never reads half a file.

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

// setCredHelper sets credHelpers[key] to helper in the docker
// configuration file at path, or, with helper "", removes the entry if it
// names this helper. It returns what the entry was before ("" for none)
// and whether the file changed. A missing file is created (mode 0600, its
// directory 0700).
func setCredHelper(path, key, helper string) (before string, changed bool, err error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real // replace the file a link points to, not the link
	}
	data, err := os.ReadFile(path)
	mode := fs.FileMode(0o600)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		data = nil
	case err != nil:
		return "", false, fmt.Errorf("reading docker's configuration %s: %w", path, err)
	default:
		if st, err := os.Stat(path); err == nil {
			mode = st.Mode().Perm()
		}
	}
	top := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &top); err != nil {
			return "", false, fmt.Errorf("docker's configuration %s is not a JSON object (%v): fix it, then run the command again; it was not changed", path, err)
		}
	}
	helpers := map[string]string{}
	if raw, ok := top["credHelpers"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &helpers); err != nil {
			return "", false, fmt.Errorf(`"credHelpers" in docker's configuration %s is not an object of strings (%v): fix it, then run the command again; it was not changed`, path, err)
		}
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
	if err := writeFileAtomic(path, append(out, '\n'), mode); err != nil {
		return "", false, fmt.Errorf("writing docker's configuration %s: %w", path, err)
	}
	return before, true, nil
}

// writeFileAtomic replaces path with data: written and synced to a
// temporary file in the same directory, then renamed over path.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
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
	if err := f.Chmod(mode); err != nil {
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
	return os.Rename(tmp, path)
}
