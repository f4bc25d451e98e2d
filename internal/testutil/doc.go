// Package testutil owns the plumbing that tests across the module share, so
// that server/…, helper/… and scripts/… stop keeping copies of it:
//
//   - LockedBuffer, a buffer safe for concurrent writers (a child process's
//     output, a log handler called from server goroutines);
//   - FreePort and FreePorts, loopback ports that were free a moment ago;
//   - Process, a started binary: wait until it answers (WaitReady, with
//     Answers as the usual HTTP probe), stop it with SIGTERM and then
//     SIGKILL, or kill it by PID as a crash would;
//   - CA, a throwaway certificate authority whose Issue writes (and, for a
//     renewal, replaces) a server's certificate and key;
//   - the output checks: CheckRun (exit code, stream, message, time limit),
//     Leaks, NoSecret and RedactTokens, so that a test that asserts "this
//     output holds no secret" never prints the secret.
//
// It imports no server/ or helper/ package (only shared/apptoken, for what
// a token looks like), and only the checks and Port take a
// testing.TB: the bench runner, a program, uses the rest.
package testutil
