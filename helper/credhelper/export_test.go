package credhelper

import "time"

// SetConfigLockWait sets how long the docker configuration's lock is
// waited for, until the test ends (restore).
func SetConfigLockWait(d time.Duration) (restore func()) {
	old := configLockWait
	configLockWait = d
	return func() { configLockWait = old }
}

// SetBeforeReplace sets what runs just before setCredHelper checks and
// replaces the file, until the test ends (restore).
func SetBeforeReplace(f func(path string)) (restore func()) {
	old := testHookBeforeReplace
	testHookBeforeReplace = f
	return func() { testHookBeforeReplace = old }
}
