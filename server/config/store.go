package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Values of Config.Store.
const (
	// StoreBolt is the embedded database in the data directory.
	StoreBolt = "bbolt"
	// StoreEtcdScheme starts an etcd store: etcd://HOST:PORT[,HOST:PORT...].
	StoreEtcdScheme = "etcd://"
	// DefaultEtcdPrefix starts every key of a deployment in etcd.
	DefaultEtcdPrefix = "/portus/"
)

// StoreFlags registers the store settings. Admin commands have them too:
// with etcd, an admin command that finds no server on its socket opens the
// cluster itself.
func StoreFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.Store, "store", c.Store, "where the state lives: bbolt (the data directory's file) or etcd://HOST:PORT[,HOST:PORT...] (shared by several replicas)")
	fs.StringVar(&c.EtcdPrefix, "etcd-prefix", c.EtcdPrefix, "key `PREFIX` of this deployment in etcd")
	fs.StringVar(&c.EtcdCA, "etcd-ca", c.EtcdCA, "PEM `FILE` of the CA of etcd's certificates (turns on TLS to etcd)")
	fs.StringVar(&c.EtcdCert, "etcd-cert", c.EtcdCert, "PEM client certificate `FILE` for etcd (needs --etcd-key; turns on TLS)")
	fs.StringVar(&c.EtcdKey, "etcd-key", c.EtcdKey, "PEM private key `FILE` of --etcd-cert")
	EtcdAccessFlags(fs, c)
}

// EtcdAccessFlags registers what a process needs besides the address to
// use a deployment in etcd: the secrets key and etcd's own sign-in. Both
// are files, never values on the command line.
func EtcdAccessFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.EtcdSecretsKeyFile, "etcd-secrets-key-file", c.EtcdSecretsKeyFile, "`FILE` of the 32-byte key that encrypts the pepper and signing key in etcd (the same on every replica; required with etcd)")
	fs.StringVar(&c.EtcdUsername, "etcd-username", c.EtcdUsername, "etcd user `NAME` to sign in as, when etcd's auth is on (needs --etcd-password-file)")
	fs.StringVar(&c.EtcdPasswordFile, "etcd-password-file", c.EtcdPasswordFile, "`FILE` holding the password of --etcd-username")
}

// MissingSecretsKey explains, in the error of a Validate without
// --etcd-secrets-key-file, how to make the key.
const MissingSecretsKey = "--etcd-secrets-key-file: etcd needs a key that encrypts the pepper and signing key at rest, the same file on every replica and admin host; make one with `portus etcd-secrets-key FILE` (or `head -c 32 /dev/urandom > FILE; chmod 600 FILE`) and set it on all of them (an existing deployment's plaintext secrets are encrypted at the first start)"

// UsesEtcd reports whether the state is in etcd.
func (c Config) UsesEtcd() bool { return strings.HasPrefix(c.Store, StoreEtcdScheme) }

// EtcdEndpoints returns the HOST:PORT list of an etcd store, nil for bbolt.
func (c Config) EtcdEndpoints() []string {
	if !c.UsesEtcd() {
		return nil
	}
	var eps []string
	for _, ep := range strings.Split(strings.TrimPrefix(c.Store, StoreEtcdScheme), ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			eps = append(eps, ep)
		}
	}
	return eps
}

// EtcdTLS reports whether the connection to etcd uses TLS.
func (c Config) EtcdTLS() bool { return c.EtcdCA != "" || c.EtcdCert != "" }

func (c *Config) validateStore() error {
	if c.Store == "" {
		c.Store = StoreBolt
	}
	if c.Store == StoreBolt {
		return nil
	}
	if !c.UsesEtcd() {
		return fmt.Errorf("--store %q: must be bbolt or etcd://HOST:PORT[,HOST:PORT...]", c.Store)
	}
	eps := c.EtcdEndpoints()
	if len(eps) == 0 {
		return fmt.Errorf("--store %q: name at least one etcd member, e.g. etcd://10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379", c.Store)
	}
	for _, ep := range eps {
		host, port, err := net.SplitHostPort(ep)
		if err != nil || host == "" {
			return fmt.Errorf("--store: etcd member %q must be HOST:PORT", ep)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("--store: etcd member %q has no valid port", ep)
		}
	}
	if c.EtcdPrefix == "" || !strings.HasSuffix(c.EtcdPrefix, "/") {
		return fmt.Errorf("--etcd-prefix %q: must end with / (e.g. /portus/), so that one deployment's keys never start another's", c.EtcdPrefix)
	}
	if (c.EtcdCert == "") != (c.EtcdKey == "") {
		return errors.New("--etcd-cert and --etcd-key go together")
	}
	if c.EtcdSecretsKeyFile == "" {
		return errors.New(MissingSecretsKey)
	}
	if (c.EtcdUsername == "") != (c.EtcdPasswordFile == "") {
		return errors.New("--etcd-username and --etcd-password-file go together (the password is never a setting, only a file)")
	}
	return nil
}
