//go:build windows

package credhelper

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
)

// systemRenameRetryable: another process holds the file open without
// FILE_SHARE_DELETE, for a moment.
func systemRenameRetryable(err error) bool {
	return errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_SHARING_VIOLATION)
}

// unprotect clears the read-only attribute of path (mode without 0200):
// MoveFileEx refuses to replace a read-only file.
func unprotect(path string, mode fs.FileMode) error {
	if mode&0o200 != 0 {
		return nil
	}
	if err := os.Chmod(path, mode|0o200); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// reprotect sets back what unprotect cleared, after a failed rename.
func reprotect(path string, mode fs.FileMode) error {
	if mode&0o200 != 0 {
		return nil
	}
	return os.Chmod(path, mode)
}
