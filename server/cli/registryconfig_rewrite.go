package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/portusproject/portus/server/internal/atomicfile"
)

// fromRegistryConfig is `registry-config --from-registry-config FILE
// [--write]`: the registry's own config.yml with its auth: block (htpasswd,
// say) replaced by Portus'. The replacement works on the text — yaml.v3
// only finds the block's lines — so that every other section, with its
// comments, order and quoting, stays byte for byte as the operator wrote
// it; re-marshalling would rewrite all of it.
type fromRegistryConfig struct {
	path  string
	write bool
	data  []byte
	mode  fs.FileMode
}

func (f *fromRegistryConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&f.path, "from-registry-config", "", "the registry's config.yml `FILE`: print it with its auth: block replaced by Portus'")
	fs.BoolVar(&f.write, "write", false, "with --from-registry-config: write the result to FILE instead (the old file stays as FILE.bak)")
}

// read loads and checks the file before any key file is written.
func (f *fromRegistryConfig) read() error {
	if f.path == "" {
		if f.write {
			return errors.New("--write needs --from-registry-config FILE: the registry configuration to rewrite")
		}
		return nil
	}
	st, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("reading the registry configuration: %w", err)
	}
	if f.data, err = os.ReadFile(f.path); err != nil {
		return fmt.Errorf("reading the registry configuration: %w", err)
	}
	f.mode = st.Mode().Perm()
	// Fail before anything is written when the file cannot be rewritten.
	_, err = replaceAuthBlock(f.data, "auth: {}\n")
	return err
}

// replaceAuth prints or writes the file with block as its auth: section.
func (f *fromRegistryConfig) replaceAuth(env Env, block string) error {
	out, err := replaceAuthBlock(f.data, block)
	if err != nil {
		return err
	}
	if !f.write {
		fmt.Fprintf(env.Stderr, "%s with Portus' auth: block; the rest is unchanged. Write it with --write (keeps %s.bak), then restart the registry.\n", f.path, f.path)
		_, err := env.Stdout.Write(out)
		return err
	}
	backup, err := freeBackupName(f.path)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(backup, f.data, f.mode); err != nil {
		return fmt.Errorf("writing the backup: %w", err)
	}
	if err := atomicfile.WriteFile(f.path, out, f.mode); err != nil {
		return fmt.Errorf("writing the registry configuration: %w", err)
	}
	fmt.Fprintf(env.Stderr, "Wrote %s with Portus' auth: block (the old file is %s). Restart the registry: it reads its configuration only at start.\n", f.path, backup)
	return nil
}

// replaceAuthBlock returns data with the lines of its top-level auth:
// key and value replaced by block (appended when there is none). The
// comment lines right above it go with it; the top-level comments and
// blank lines right after it stay: they belong to what follows. The result is parsed again and every other
// top-level section compared with the original's.
func replaceAuthBlock(data []byte, block string) ([]byte, error) {
	top, err := parseTop(data)
	if err != nil {
		return nil, err
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > 0 && bytes.HasSuffix(lines[0], []byte("\r\n")) {
		block = strings.ReplaceAll(block, "\n", "\r\n")
	}
	start, end := len(lines), len(lines)
	for i := 0; i+1 < len(top.Content); i += 2 {
		k := top.Content[i]
		if k.Value != "auth" {
			continue
		}
		if k.Column != 1 {
			return nil, fmt.Errorf("line %d: the auth: key is indented; put the registry's top-level keys at the start of their lines", k.Line)
		}
		start = k.Line - 1
		// The comment lines right above auth: are about it (Portus'
		// own "# Works with ..." line, for one): they go with it.
		for start > 0 && lines[start-1][0] == '#' {
			start--
		}
		if i+2 < len(top.Content) {
			end = top.Content[i+2].Line - 1
		}
		for end > start+1 && (len(bytes.TrimSpace(lines[end-1])) == 0 || lines[end-1][0] == '#') {
			end--
		}
	}
	var out bytes.Buffer
	for _, l := range lines[:start] {
		out.Write(l)
	}
	if start == len(lines) && start > 0 && !bytes.HasSuffix(lines[start-1], []byte("\n")) {
		out.WriteString("\n")
	}
	out.WriteString(block)
	for _, l := range lines[end:] {
		out.Write(l)
	}
	if err := sameOutsideAuth(data, out.Bytes()); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// parseTop returns the top-level mapping of a one-document YAML file.
func parseTop(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("the registry configuration is not valid YAML: %w", err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, errors.New("the registry configuration holds more than one YAML document; the registry reads one")
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode || doc.Content[0].Style&yaml.FlowStyle != 0 {
		return nil, errors.New("the registry configuration is not a YAML mapping in block style (version:, storage:, http:, ...)")
	}
	return doc.Content[0], nil
}

// sameOutsideAuth checks that before and after say the same but for auth:.
func sameOutsideAuth(before, after []byte) error {
	var a, b map[string]any
	if err := yaml.Unmarshal(before, &a); err != nil {
		return err
	}
	if err := yaml.Unmarshal(after, &b); err != nil {
		return fmt.Errorf("the rewritten configuration does not parse (%w); edit the auth: block by hand", err)
	}
	delete(a, "auth")
	auth, _ := b["auth"].(map[string]any)
	delete(b, "auth")
	if auth == nil || !reflect.DeepEqual(a, b) {
		return errors.New("could not replace the auth: block alone; edit it by hand with the block `portus registry-config` prints")
	}
	return nil
}

// freeBackupName is path.bak, or path.bak.N for the first N not taken: a
// second --write must not replace the backup of the original with the
// already rewritten file.
func freeBackupName(path string) (string, error) {
	name := path + ".bak"
	for n := 1; n < 1000; n++ {
		if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			return name, nil
		} else if err != nil {
			return "", fmt.Errorf("checking the backup name %s: %w", name, err)
		}
		name = fmt.Sprintf("%s.bak.%d", path, n)
	}
	return "", fmt.Errorf("%s.bak to .bak.999 all exist: remove old backups first", path)
}
