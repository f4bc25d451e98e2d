//go:build !portus_testkeyring

package main

import "github.com/portusproject/portus/helper/keychain"

// testKeyring is nil in release builds: the OS keyring.
func testKeyring() keychain.Backend { return nil }
