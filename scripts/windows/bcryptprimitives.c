/*
 * A test-only stand-in for Windows' bcryptprimitives.dll, used by scripts/test-windows
 * and never shipped: Rust's standard library fills its random seeds with ProcessPrng
 * from that DLL, which Windows 10 and later have and wine 8 lacks. This one fills the
 * buffer from RtlGenRandom (advapi32's SystemFunction036), which wine has.
 */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!RtlGenRandom(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
