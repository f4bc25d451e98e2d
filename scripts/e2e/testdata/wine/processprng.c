/*
 * bcryptprimitives.dll for Wine: just ProcessPrng.
 *
 * Why: since Go 1.24 a Windows program's runtime gets its random bytes from
 * ProcessPrng in bcryptprimitives.dll, and dies at start ("fatal error:
 * bcryptprimitives.dll not found") where that DLL is missing. Debian's Wine
 * 8.0 has none, so the helper's Windows build could not run under it at all.
 * This shim, copied into the prefix's C:\windows\system32, gives the runtime
 * what it asks for on top of advapi32's RtlGenRandom (SystemFunction036),
 * which Wine has and which draws from the host's random source.
 *
 * Used only by the end-to-end tests (scripts/e2e/wine_test.go builds it with
 * Debian's gcc-mingw-w64-x86-64); nothing of it ships.
 */
#include <windows.h>
#include <ntsecapi.h>

/* ProcessPrng fills data with len random bytes. Windows documents that it
 * always succeeds; RtlGenRandom takes at most a ULONG at a time. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x40000000u ? 0x40000000u : (ULONG)len;
		if (!RtlGenRandom(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
