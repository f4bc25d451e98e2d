//go:build portus_testkeyring

package main

// TEST-ONLY. Built only with -tags portus_testkeyring, as the tests of this
// command build it: a binary built so honours PORTUS_HELPER_KEYRING=file:PATH
// and keeps its "keyring" in plaintext in the JSON file PATH (package
// filekeyring), so that the real binary can be tested without a D-Bus
// session. Release builds ignore the variable; never ship a binary built
// with this tag.

import (
	"fmt"
	"os"
	"strings"

	"github.com/portusproject/portus/helper/internal/filekeyring"
	"github.com/portusproject/portus/helper/keychain"
)

// envTestKeyring names the test-only variable.
const envTestKeyring = "PORTUS_HELPER_KEYRING"

func testKeyring() keychain.Backend {
	v := os.Getenv(envTestKeyring)
	if v == "" {
		return nil
	}
	path, ok := strings.CutPrefix(v, "file:")
	if !ok || path == "" {
		fmt.Fprintf(os.Stderr, "%s: want file:PATH, got %q\n", envTestKeyring, v)
		os.Exit(1)
	}
	return filekeyring.Keyring{Path: path}
}
