//go:build !windows

package credhelper

import "io/fs"

// systemRenameRetryable: elsewhere an open file never stops a rename.
func systemRenameRetryable(error) bool { return false }

// unprotect and reprotect have nothing to do: a read-only file can be
// renamed over where the directory is writable.
func unprotect(string, fs.FileMode) error { return nil }
func reprotect(string, fs.FileMode) error { return nil }
