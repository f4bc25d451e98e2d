package app

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/store/etcdstore"
)

// etcdOptions reads the files that the etcd settings name (the secrets
// key, the client certificate, the etcd password) and warns when the
// connection is in clear across a network.
func etcdOptions(c config.Config, log *slog.Logger) (etcdstore.Options, error) {
	o := etcdstore.Options{Endpoints: c.EtcdEndpoints(), Prefix: c.EtcdPrefix, Logger: log}
	if c.EtcdSecretsKeyFile == "" {
		return o, fmt.Errorf("%s", config.MissingSecretsKey)
	}
	key, err := etcdstore.ReadSecretsKey(c.EtcdSecretsKeyFile)
	if err != nil {
		return o, err
	}
	o.SecretsKey, o.SecretsKeyFile = key, c.EtcdSecretsKeyFile
	if c.EtcdTLS() {
		tlsConfig, err := etcdstore.TLSConfig(c.EtcdCA, c.EtcdCert, c.EtcdKey)
		if err != nil {
			return o, err
		}
		o.TLS = tlsConfig
	}
	if c.EtcdUsername != "" {
		data, err := os.ReadFile(c.EtcdPasswordFile)
		if err != nil {
			return o, fmt.Errorf("reading the etcd password: %w", err)
		}
		o.Username, o.Password = c.EtcdUsername, strings.TrimRight(string(data), "\r\n")
		if o.Password == "" {
			return o, fmt.Errorf("the etcd password file %s is empty: write the password of --etcd-username %s into it, or drop --etcd-username and --etcd-password-file if etcd's authentication is off", c.EtcdPasswordFile, c.EtcdUsername)
		}
	}
	if etcdInClear(c.EtcdTLS(), o.Endpoints) {
		if log == nil {
			log = slog.Default()
		}
		log.Warn("the connection to etcd is not encrypted: password hashes, the HMACs of application tokens, web sessions and the etcd password cross the network in clear; turn TLS on with --etcd-ca (and --etcd-cert, --etcd-key for client certificates)",
			"etcd", strings.Join(o.Endpoints, ","))
	}
	return o, nil
}

// etcdInClear reports whether state would travel unencrypted off this
// machine: no TLS and at least one endpoint that is not loopback.
func etcdInClear(tls bool, endpoints []string) bool {
	if tls {
		return false
	}
	for _, ep := range endpoints {
		host, _, err := net.SplitHostPort(ep)
		if err != nil {
			host = ep
		}
		if !config.LoopbackHost(host) {
			return true
		}
	}
	return false
}
