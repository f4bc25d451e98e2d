package credhelper

import (
	"io/fs"
	"os"
	"time"
)

// Renaming the new docker configuration over the old one. On Windows the
// rename fails with Access is denied or a sharing violation while another
// process has config.json open without FILE_SHARE_DELETE (the docker CLI
// reading it, Docker Desktop, an antivirus scanner), which is brief: such
// a rename is retried for a second. A read-only config.json cannot be
// renamed over there at all, so its attribute is cleared first and set
// again by writeFileAtomic.

// renameRetryWait is how long a rename refused as renameRetryable is
// tried again, and renameRetryPause the pause between tries.
const (
	renameRetryWait  = time.Second
	renameRetryPause = 20 * time.Millisecond
)

// rename and renameRetryable are the system's rename and which of its
// errors pass (variables for the tests).
var (
	rename          = os.Rename
	renameRetryable = systemRenameRetryable
)

// replaceFile renames tmp over path, running check before each try and
// giving up with its error; a refusal renameRetryable calls passing is
// tried again for renameRetryWait. mode is what path had.
func replaceFile(tmp, path string, mode fs.FileMode, check func() error) error {
	if err := unprotect(path, mode); err != nil {
		return err
	}
	deadline := time.Now().Add(renameRetryWait)
	for {
		err := check()
		if err == nil {
			err = rename(tmp, path)
		}
		if err == nil {
			return nil
		}
		if !renameRetryable(err) || !time.Now().Before(deadline) {
			_ = reprotect(path, mode)
			return err
		}
		time.Sleep(renameRetryPause)
	}
}
