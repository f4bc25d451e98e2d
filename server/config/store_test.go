package config

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestStoreSettings(t *testing.T) {
	load := func(args []string, env map[string]string) (Config, error) {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c, _, err := Load(fs, ServeFlags, args, func(k string) string { return env[k] })
		if err != nil {
			return c, err
		}
		return c, c.Validate()
	}
	c, err := load(nil, nil)
	if err != nil || c.Store != StoreBolt || c.UsesEtcd() || c.EtcdEndpoints() != nil || c.EtcdPrefix != "/portus/" {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	c, err = load([]string{"--store", "etcd://10.0.0.1:2379, 10.0.0.2:2379,[::1]:2379", "--etcd-secrets-key-file", "/k"}, nil)
	if err != nil || !c.UsesEtcd() || !slices.Equal(c.EtcdEndpoints(), []string{"10.0.0.1:2379", "10.0.0.2:2379", "[::1]:2379"}) || c.EtcdTLS() {
		t.Errorf("--store etcd://…: %v, %v", c.EtcdEndpoints(), err)
	}
	c, err = load(nil, map[string]string{"PORTUS_STORE": "etcd://e:2379", "PORTUS_ETCD_PREFIX": "/team-a/", "PORTUS_ETCD_CA": "/ca.pem",
		"PORTUS_ETCD_SECRETS_KEY_FILE": "/k", "PORTUS_ETCD_USERNAME": "portus", "PORTUS_ETCD_PASSWORD_FILE": "/p"})
	if err != nil || c.Store != "etcd://e:2379" || c.EtcdPrefix != "/team-a/" || !c.EtcdTLS() ||
		c.EtcdSecretsKeyFile != "/k" || c.EtcdUsername != "portus" || c.EtcdPasswordFile != "/p" {
		t.Errorf("from the environment: %+v, %v", c, err)
	}
	// Admin commands take the store settings too.
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	c, _, err = Load(fs, DataFlags, []string{"--store", "etcd://e:2379"}, func(string) string { return "" })
	if err != nil || !c.UsesEtcd() {
		t.Errorf("DataFlags --store: %v, %v", c.Store, err)
	}
	for _, bad := range [][]string{
		{"--store", "etcd"},
		{"--store", "etcd://"},
		{"--store", "etcd://host"},
		{"--store", "etcd://host:0"},
		{"--store", "etcd://:2379"},
		{"--store", "mysql://x:1"},
		{"--store", "etcd://h:1", "--etcd-prefix", "/portus", "--etcd-secrets-key-file", "/k"},
		{"--store", "etcd://h:1", "--etcd-cert", "c.pem", "--etcd-secrets-key-file", "/k"},
		{"--store", "etcd://h:1", "--etcd-secrets-key-file", "/k", "--etcd-username", "u"},
		{"--store", "etcd://h:1", "--etcd-secrets-key-file", "/k", "--etcd-password-file", "/p"},
	} {
		if _, err := load(bad, nil); err == nil || !strings.Contains(err.Error(), "--") {
			t.Errorf("%v: accepted (%v)", bad, err)
		}
	}
}

// TestEtcdSecretsKeyRequired: an etcd deployment without the secrets key
// refuses to start, saying how to make one; the file settings come from
// YAML like the others.
func TestEtcdSecretsKeyRequired(t *testing.T) {
	c := Defaults()
	c.Store = "etcd://10.0.0.1:2379"
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "--etcd-secrets-key-file") || !strings.Contains(err.Error(), "head -c 32 /dev/urandom > FILE; chmod 600 FILE") {
		t.Fatalf("etcd without a secrets key: %v", err)
	}
	c = Defaults()
	if err := Parse([]byte("store: etcd://10.0.0.1:2379\netcd_secrets_key_file: /etc/portus/etcd-secrets.key\netcd_username: portus\netcd_password_file: /etc/portus/etcd-password\n"), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil || c.EtcdSecretsKeyFile != "/etc/portus/etcd-secrets.key" || c.EtcdUsername != "portus" || c.EtcdPasswordFile != "/etc/portus/etcd-password" {
		t.Errorf("from YAML: %+v, %v", c, err)
	}
	// bbolt needs none of it.
	c = Defaults()
	if err := c.Validate(); err != nil {
		t.Errorf("bbolt: %v", err)
	}
}
