// Package userimport reads the user lists of the authentication Portus
// replaces: distribution's htpasswd files and cesanta/docker_auth's static
// users and ACL. It owns the file formats only — each user with the line
// it came from, and the lines it cannot use with the reason — and the
// report of what an ACL rule becomes under Portus' default policy; the
// account service decides what is created (account.ImportUsers).
package userimport

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Entry is one user of a file, with the 1-based line of its password.
type Entry struct {
	Line int
	Name string
	Hash string
}

// Refused is a line that names no usable user.
type Refused struct {
	Line   int
	Name   string // empty when the line has none
	Reason string
}

// Rule is one docker_auth ACL entry.
type Rule struct {
	Line    int
	Match   map[string]string // account, name, type, service, ip, ...
	Actions []string
}

// File is what a file holds for the import.
type File struct {
	Users   []Entry
	Refused []Refused
	ACL     []Rule
}

// ParseHtpasswd reads an htpasswd file: "name:hash" lines; blank lines and
// lines starting with # are skipped. Every hash is returned as it is; the
// caller refuses those that are not bcrypt (account.CheckLegacyHash).
func ParseHtpasswd(r io.Reader) (*File, error) {
	f := &File{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	seen := map[string]int{}
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		switch {
		case !ok || name == "":
			f.Refused = append(f.Refused, Refused{Line: n, Reason: `not a "name:hash" line`})
		case seen[name] != 0:
			f.Refused = append(f.Refused, Refused{Line: n, Name: name, Reason: fmt.Sprintf("the name is on line %d already, which counts", seen[name])})
		default:
			seen[name] = n
			f.Users = append(f.Users, Entry{Line: n, Name: name, Hash: strings.TrimSpace(hash)})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the htpasswd file: %w", err)
	}
	return f, nil
}

// ParseDockerAuth reads a docker_auth configuration: its users: map (name
// → {password: bcrypt}) and its acl: list. Other sections are ignored.
func ParseDockerAuth(data []byte) (*File, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("reading the docker_auth configuration: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("the docker_auth configuration is not a YAML mapping (with users: and acl:)")
	}
	f := &File{}
	top := doc.Content[0]
	users, acl := mapValue(top, "users"), mapValue(top, "acl")
	if users == nil {
		return nil, errors.New("the docker_auth configuration has no users: section: only its static users can be imported")
	}
	if users.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: users: must map each name to {password: ...}", users.Line)
	}
	for i := 0; i+1 < len(users.Content); i += 2 {
		k, v := users.Content[i], users.Content[i+1]
		pw := mapValue(v, "password")
		switch {
		case k.Value == "":
			f.Refused = append(f.Refused, Refused{Line: k.Line, Reason: `the anonymous user "": Portus has no anonymous account (see --anonymous-pull)`})
		case pw == nil || pw.Kind != yaml.ScalarNode:
			f.Refused = append(f.Refused, Refused{Line: k.Line, Name: k.Value, Reason: "no password: entry"})
		default:
			f.Users = append(f.Users, Entry{Line: pw.Line, Name: k.Value, Hash: pw.Value})
		}
	}
	if acl != nil {
		rules, err := parseACL(acl)
		if err != nil {
			return nil, err
		}
		f.ACL = rules
	}
	return f, nil
}

func parseACL(acl *yaml.Node) ([]Rule, error) {
	if acl.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("line %d: acl: must be a list of {match: ..., actions: [...]}", acl.Line)
	}
	var rules []Rule
	for _, item := range acl.Content {
		var raw struct {
			Match   map[string]any `yaml:"match"`
			Actions []string       `yaml:"actions"`
		}
		if err := item.Decode(&raw); err != nil {
			return nil, fmt.Errorf("line %d: an acl entry: %w", item.Line, err)
		}
		r := Rule{Line: item.Line, Match: map[string]string{}, Actions: raw.Actions}
		for k, v := range raw.Match {
			r.Match[k] = fmt.Sprint(v)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// mapValue is the value of key in the mapping node m, nil if none.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
