package etcdstore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
)

// SecretsKeyLen is the size of the key that encrypts the shared secrets:
// AES-256.
const SecretsKeyLen = 32

// sealMagic starts every encrypted secret value, followed by a version
// byte. A value without it is a plaintext secret written before
// encryption existed (a random 32-byte pepper starts with these 15 bytes
// with a chance of 2^-120; PEM starts with "-----").
const sealMagic = "\x00portus-sealed:"

// sealV1 is AES-256-GCM: version byte, 12-byte random nonce, ciphertext
// and tag, with the secret's name as additional data so that the values
// of two names cannot be swapped.
const sealV1 = 1

// sealer encrypts and decrypts the values under secrets/. A nil key
// leaves them in plaintext (only tests and the migration from an older
// deployment write those).
type sealer struct {
	aead cipher.AEAD
	// file names where the key came from, for errors.
	file string
}

func newSealer(key []byte, file string) (sealer, error) {
	if key == nil {
		return sealer{}, nil
	}
	if len(key) != SecretsKeyLen {
		return sealer{}, fmt.Errorf("the etcd secrets key must be %d bytes, not %d", SecretsKeyLen, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return sealer{}, fmt.Errorf("the etcd secrets key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealer{}, fmt.Errorf("the etcd secrets key: %w", err)
	}
	if file == "" {
		file = "the key given"
	}
	return sealer{aead: aead, file: file}, nil
}

// seal returns the value to store for the secret name.
func (s sealer) seal(name string, plain []byte) ([]byte, error) {
	if s.aead == nil {
		return bytes.Clone(plain), nil
	}
	out := make([]byte, 0, len(sealMagic)+1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	out = append(out, sealMagic...)
	out = append(out, sealV1)
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("making a nonce: %w", err)
	}
	out = append(out, nonce...)
	return s.aead.Seal(out, nonce, plain, []byte(name)), nil
}

// open returns the secret name from its stored value, and whether that
// value was plaintext (to be sealed now).
func (s sealer) open(name string, stored []byte) (plain []byte, legacy bool, err error) {
	rest, sealed := bytes.CutPrefix(stored, []byte(sealMagic))
	if !sealed {
		return bytes.Clone(stored), s.aead != nil, nil
	}
	if s.aead == nil {
		return nil, false, fmt.Errorf("the %s in etcd is encrypted: give its key with --etcd-secrets-key-file", name)
	}
	if len(rest) == 0 || rest[0] != sealV1 {
		return nil, false, fmt.Errorf("the %s in etcd is sealed in an unknown format: is this portus older than the one that wrote it?", name)
	}
	rest = rest[1:]
	if len(rest) < s.aead.NonceSize()+s.aead.Overhead() {
		return nil, false, fmt.Errorf("the %s in etcd is sealed but truncated: restore the key under the prefix from an etcd snapshot (etcdctl snapshot restore), or from a replica's backup with portus migrate", name)
	}
	nonce, ct := rest[:s.aead.NonceSize()], rest[s.aead.NonceSize():]
	plain, err = s.aead.Open(nil, nonce, ct, []byte(name))
	if err != nil {
		return nil, false, fmt.Errorf("the etcd secrets key (%s) does not decrypt the stored %s: is --etcd-secrets-key-file the same on every replica?", s.file, name)
	}
	return plain, false, nil
}

// ReadSecretsKey reads the key that encrypts the shared secrets: 32 raw
// bytes (`head -c 32 /dev/urandom`) or 64 hex digits, optionally followed
// by a newline. A file that others than its owner and group may read is
// refused, as is an empty or malformed one; errors never show the content.
func ReadSecretsKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading the etcd secrets key: %w", err)
	}
	if fi.Mode().Perm()&0o007 != 0 {
		return nil, fmt.Errorf("the etcd secrets key file %s is open to other users (mode %v): chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the etcd secrets key: %w", err)
	}
	return parseSecretsKey(path, data)
}

func parseSecretsKey(path string, data []byte) ([]byte, error) {
	if len(data) == SecretsKeyLen {
		return data, nil
	}
	text := bytes.TrimRight(data, "\r\n")
	if len(text) == 2*SecretsKeyLen {
		if key, err := hex.DecodeString(string(text)); err == nil {
			return key, nil
		}
	}
	return nil, fmt.Errorf("the etcd secrets key file %s must hold %d random bytes or %d hex digits (%d bytes found): make one with `head -c 32 /dev/urandom > %s; chmod 600 %s`",
		path, SecretsKeyLen, 2*SecretsKeyLen, len(data), path, path)
}

// NewSecretsKey returns a fresh random key, as hex with a newline: the
// content of a new secrets key file.
func NewSecretsKey() ([]byte, error) {
	key := make([]byte, SecretsKeyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("reading random bytes for the etcd secrets key: %w", err)
	}
	return []byte(hex.EncodeToString(key) + "\n"), nil
}
