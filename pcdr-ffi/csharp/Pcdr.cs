// Pcdr.cs: a small P/Invoke wrapper of libpcdr (pcdr-ffi), the C ABI of pcdr.
//
// Add this one file to your project and put libpcdr.so (Linux) or pcdr.dll (Windows)
// where the runtime finds native libraries (next to the program, or LD_LIBRARY_PATH).
// Strings cross as UTF-8; the library's handles and strings are SafeHandles, so they are
// freed exactly once; a failed call throws PcdrException with the result code, the
// message, the SQL Server error number and the step. See pcdr-ffi/README.md.
using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Pcdr
{
    /// <summary>The result codes of include/pcdr.h (pcdr_result), stable and grouped by range;
    /// pcdr-ffi/tests/result_codes.rs checks that both list the same names and numbers.
    /// Retired, never reused: 300 (StepFailed).</summary>
    public enum ResultCode : uint
    {
        Ok = 0, Other = 1,
        Topology = 100,
        Precondition = 200, DataLossRefused = 201, BadLogBackup = 202,
        StepSqlServer = 301, StepUnreachable = 302, StepConnectionLost = 303,
        StepIo = 304, StepShell = 305, StepTimeout = 306, StepUnexpectedAnswer = 307, StepConnectFailed = 308,
        Journal = 400, JournalLocked = 401,
        Cancelled = 500,
        NullParameter = 900, InvalidUtf8 = 901, InvalidHandle = 902, UnknownProcedure = 903,
        UnknownStep = 904, BufferTooSmall = 905, UnknownOptionsSize = 906, InvalidArgument = 907,
        Panic = 999,
    }

    /// <summary>A failed pcdr call: its code, message, SQL Server error number, step and, when a
    /// precondition refused the step, why.</summary>
    public class PcdrException : Exception
    {
        public ResultCode Code { get; private set; }
        /// <summary>SQL Server's error number (e.g. 4305), or 0 when SQL Server did not report it.</summary>
        public uint SqlNumber { get; private set; }
        /// <summary>The id of the step that failed (check_sites), or null.</summary>
        public string Step { get; private set; }
        /// <summary>Why a precondition refused the step (primary_reachable, pool_state, ...), or
        /// null when the code is not Precondition. Branch on this, never on the message.</summary>
        public string PreconditionKind { get; private set; }
        /// <summary>Whether a step failed (codes 3xx); resume after fixing the cause.</summary>
        public bool IsStepFailure { get { return (uint)Code >= 300 && (uint)Code < 400; } }

        public PcdrException(ResultCode code, string message, uint sqlNumber, string step)
            : this(code, message, sqlNumber, step, null, null) { }

        /// <summary>As above, with the exception that led to this one (a failed progress handler).</summary>
        public PcdrException(ResultCode code, string message, uint sqlNumber, string step, Exception inner)
            : this(code, message, sqlNumber, step, null, inner) { }

        /// <summary>Every field, and the exception that led to this one (or null).</summary>
        public PcdrException(ResultCode code, string message, uint sqlNumber, string step,
            string preconditionKind, Exception inner)
            : base(message, inner)
        {
            Code = code;
            SqlNumber = sqlNumber;
            Step = step;
            PreconditionKind = preconditionKind;
        }

        /// <summary>Throws the calling thread's last error when code is not Ok.</summary>
        internal static void Check(ResultCode code)
        {
            if (code == ResultCode.Ok) return;
            throw new PcdrException(code, LastText(Native.pcdr_error_message),
                Native.pcdr_error_sql_number(), NullIfEmpty(LastText(Native.pcdr_error_step)),
                NullIfEmpty(LastText(Native.pcdr_error_precondition)), null);
        }

        private static string NullIfEmpty(string text)
        {
            return text.Length == 0 ? null : text;
        }

        internal delegate ResultCode TextAccessor(byte[] buf, UIntPtr len, out UIntPtr needed);

        // Sizes the buffer with a first call, then copies; the accessors keep the last error.
        private static string LastText(TextAccessor accessor)
        {
            UIntPtr needed;
            accessor(null, UIntPtr.Zero, out needed);
            var buf = new byte[(int)needed];
            if (accessor(buf, needed, out needed) != ResultCode.Ok) return "";
            return Encoding.UTF8.GetString(buf, 0, buf.Length - 1);
        }
    }

    /// <summary>A pcdr_runbook handle, freed with pcdr_runbook_free.</summary>
    public sealed class RunbookHandle : SafeHandle
    {
        public RunbookHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle() { Native.pcdr_runbook_free(handle); return true; }
    }

    /// <summary>A string the library returned, freed with pcdr_string_free.</summary>
    public sealed class StringHandle : SafeHandle
    {
        public StringHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle() { Native.pcdr_string_free(handle); return true; }

        /// <summary>The text, then the native string is freed.</summary>
        public string TakeText()
        {
            try { return Utf8.FromNative(handle); } finally { Dispose(); }
        }
    }

    /// <summary>How a runbook runs (pcdr_options).</summary>
    public sealed class Options
    {
        /// <summary>The journal file, or null for a new one in the temporary folder.</summary>
        public string Journal;
        /// <summary>The journal of the completed failover a failback follows, or null: the
        /// failback keeps the log-shipping settings the failover recorded in it (without one,
        /// the topology's values, with a warning).</summary>
        public string FailoverJournal;
        /// <summary>The site a switchover moves the pool to: "primary", "backup", or null for
        /// the site the pool's state does not point at (naming the site it points at returns
        /// the pool there after a switchover that stopped before its recovery). Other text is
        /// refused (ResultCode.InvalidArgument); other procedures ignore it.</summary>
        public string SwitchTo;
        /// <summary>Observe and plan only: no change is made.</summary>
        public bool DryRun;
        /// <summary>Recover past a gap in the log chain, losing the missing transactions.</summary>
        public bool AcceptDataLoss;
        /// <summary>Fail over even though the primary site still answers.</summary>
        public bool AllowPrimaryReachable;
        /// <summary>Copy every log backup before restoring any (by default each one next in
        /// the chain is restored while later ones are still being copied).</summary>
        public bool SequentialRestore;
        /// <summary>Resume a journal whose run started more than 24 hours ago (refused
        /// otherwise: what it records may no longer be true).</summary>
        public bool ResumeStale;
    }

    /// <summary>One deployment's runbook: plan, run, resume, run a step, report, cancel.
    /// Every result is a JSON document.</summary>
    public sealed class Runbook : IDisposable
    {
        private readonly RunbookHandle handle;

        private Runbook(RunbookHandle handle) { this.handle = handle; }

        /// <summary>Loads a topology file.</summary>
        public static Runbook FromFile(string path, Options options)
        {
            return Create(options, (ref Native.Options o, out RunbookHandle h) =>
                Native.pcdr_runbook_new_from_file(Utf8.ToNative(path), ref o, out h));
        }

        /// <summary>Loads topology TOML text; baseDir (or null) resolves a relative password_file.</summary>
        public static Runbook FromToml(string toml, string baseDir, Options options)
        {
            return Create(options, (ref Native.Options o, out RunbookHandle h) =>
                Native.pcdr_runbook_new_from_toml(Utf8.ToNative(toml), Utf8.ToNative(baseDir), ref o, out h));
        }

        private delegate ResultCode Constructor(ref Native.Options options, out RunbookHandle handle);

        private static Runbook Create(Options options, Constructor constructor)
        {
            options = options ?? new Options();
            var journal = GCHandle.Alloc(Utf8.ToNative(options.Journal ?? ""), GCHandleType.Pinned);
            var failoverJournal = GCHandle.Alloc(Utf8.ToNative(options.FailoverJournal ?? ""), GCHandleType.Pinned);
            var switchTo = GCHandle.Alloc(Utf8.ToNative(options.SwitchTo ?? ""), GCHandleType.Pinned);
            try
            {
                Native.Options native;
                PcdrException.Check(Native.pcdr_options_init(out native));
                native.Journal = options.Journal == null ? IntPtr.Zero : journal.AddrOfPinnedObject();
                native.FailoverJournal = options.FailoverJournal == null
                    ? IntPtr.Zero : failoverJournal.AddrOfPinnedObject();
                native.SwitchTo = options.SwitchTo == null ? IntPtr.Zero : switchTo.AddrOfPinnedObject();
                native.DryRun = (byte)(options.DryRun ? 1 : 0);
                native.AcceptDataLoss = (byte)(options.AcceptDataLoss ? 1 : 0);
                native.AllowPrimaryReachable = (byte)(options.AllowPrimaryReachable ? 1 : 0);
                native.SequentialRestore = (byte)(options.SequentialRestore ? 1 : 0);
                native.ResumeStale = (byte)(options.ResumeStale ? 1 : 0);
                RunbookHandle handle;
                PcdrException.Check(constructor(ref native, out handle));
                return new Runbook(handle);
            }
            finally
            {
                journal.Free();
                failoverJournal.Free();
                switchTo.Free();
            }
        }

        /// <summary>The library's version.</summary>
        public static string Version { get { return Utf8.FromNative(Native.pcdr_version()); } }

        /// <summary>The procedures and their steps (pcdr_procedures), as JSON:
        /// {"schema_version":1,"procedures":[{"name":…,"summary":…,"steps":[{"id":…,"title":…}]}]}.
        /// The names and ids are what Plan, Run and RunStep take.</summary>
        public static string Procedures
        {
            get
            {
                UIntPtr needed;
                ResultCode sized = Native.pcdr_procedures(null, UIntPtr.Zero, out needed);
                if (sized != ResultCode.BufferTooSmall) PcdrException.Check(sized);
                var buf = new byte[(int)needed];
                PcdrException.Check(Native.pcdr_procedures(buf, needed, out needed));
                return Encoding.UTF8.GetString(buf, 0, buf.Length - 1);
            }
        }

        /// <summary>The plan of a procedure ("failover"; see Procedures), read-only.</summary>
        public string Plan(string procedure)
        {
            StringHandle json;
            PcdrException.Check(Native.pcdr_runbook_plan(handle, Utf8.ToNative(procedure), out json));
            return json.TakeText();
        }

        /// <summary>Runs a procedure; onEvent (or null) gets each progress event as JSON, on
        /// this thread. An exception in onEvent cancels the run: the PcdrException it ends
        /// with has that exception as InnerException.</summary>
        public string Run(string procedure, Action<string> onEvent)
        {
            return WithProgress(onEvent, () =>
            {
                StringHandle json;
                PcdrException.Check(Native.pcdr_runbook_run(handle, Utf8.ToNative(procedure), out json));
                return json.TakeText();
            });
        }

        /// <summary>Continues the run the journal holds.</summary>
        public string Resume(Action<string> onEvent)
        {
            return WithProgress(onEvent, () =>
            {
                StringHandle json;
                PcdrException.Check(Native.pcdr_runbook_resume(handle, out json));
                return json.TakeText();
            });
        }

        /// <summary>Runs one step by its id (check_sites), journaled.</summary>
        public string RunStep(string procedure, string stepId, Action<string> onEvent)
        {
            return WithProgress(onEvent, () =>
            {
                StringHandle json;
                PcdrException.Check(Native.pcdr_runbook_run_step(handle, Utf8.ToNative(procedure),
                    Utf8.ToNative(stepId), out json));
                return json.TakeText();
            });
        }

        /// <summary>The report of the run the journal holds.</summary>
        public string Report()
        {
            StringHandle json;
            PcdrException.Check(Native.pcdr_runbook_report(handle, out json));
            return json.TakeText();
        }

        /// <summary>Stops the run in progress before its next step; callable from any thread.</summary>
        public void Cancel()
        {
            PcdrException.Check(Native.pcdr_runbook_cancel(handle));
        }

        public void Dispose() { handle.Dispose(); }

        // The delegate stays referenced until the call returns, so the GC cannot collect it
        // while native code holds its pointer. An exception in onEvent must not unwind
        // through native frames: it is kept, the run is cancelled (it stops before its next
        // step, resumable), and the PcdrException the run ends with (Cancelled, or the
        // running step's own failure) carries it as InnerException. If the run completed
        // anyway, it is rethrown in an AggregateException. onEvent is not called again.
        private string WithProgress(Action<string> onEvent, Func<string> call)
        {
            if (onEvent == null) return call();
            Exception thrown = null;
            Native.ProgressCallback callback = (json, userData) =>
            {
                if (thrown != null) return;
                try { onEvent(Utf8.FromNative(json)); }
                catch (Exception e)
                {
                    thrown = e;
                    Native.pcdr_runbook_cancel(handle);
                }
            };
            PcdrException.Check(Native.pcdr_runbook_set_progress_callback(handle, callback, IntPtr.Zero));
            string result;
            try { result = call(); }
            catch (PcdrException e)
            {
                if (thrown == null) throw;
                throw new PcdrException(e.Code, e.Message, e.SqlNumber, e.Step, e.PreconditionKind, thrown);
            }
            finally
            {
                Native.pcdr_runbook_set_progress_callback(handle, null, IntPtr.Zero);
                GC.KeepAlive(callback);
            }
            if (thrown != null) throw new AggregateException("a progress handler failed", thrown);
            return result;
        }
    }

    internal static class Utf8
    {
        /// <summary>NUL-terminated UTF-8 bytes, or null for null.</summary>
        internal static byte[] ToNative(string text)
        {
            return text == null ? null : Encoding.UTF8.GetBytes(text + "\0");
        }

        internal static string FromNative(IntPtr ptr)
        {
            if (ptr == IntPtr.Zero) return null;
            int len = 0;
            while (Marshal.ReadByte(ptr, len) != 0) len++;
            var bytes = new byte[len];
            Marshal.Copy(ptr, bytes, 0, len);
            return Encoding.UTF8.GetString(bytes);
        }
    }

    internal static class Native
    {
        private const string Lib = "pcdr";

        // pcdr_options, filled by pcdr_options_init (which writes StructSize).
        [StructLayout(LayoutKind.Sequential)]
        internal struct Options
        {
            public uint StructSize;
            public IntPtr Journal;
            public IntPtr FailoverJournal;
            public IntPtr SwitchTo;
            public byte DryRun;
            public byte AcceptDataLoss;
            public byte AllowPrimaryReachable;
            public byte SequentialRestore;
            public byte ResumeStale;
        }

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void ProgressCallback(IntPtr eventJson, IntPtr userData);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr pcdr_version();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ResultCode pcdr_options_init(out Options options);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ResultCode pcdr_procedures(byte[] buf, UIntPtr len, out UIntPtr needed);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ResultCode pcdr_runbook_new_from_file(byte[] path, ref Options options, out RunbookHandle runbook);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ResultCode pcdr_runbook_new_from_toml(byte[] toml, byte[] baseDir, ref Options options, out RunbookHandle runbook);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void pcdr_runbook_free(IntPtr runbook);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ResultCode pcdr_runbook_plan(RunbookHandle runbook, byte[] procedure, out StringHandle json);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ResultCode pcdr_runbook_run(RunbookHandle runbook, byte[] procedure, out StringHandle json);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ResultCode pcdr_runbook_resume(RunbookHandle runbook, out StringHandle json);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ResultCode pcdr_runbook_run_step(RunbookHandle runbook, byte[] procedure, byte[] stepId, out StringHandle json);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ResultCode pcdr_runbook_report(RunbookHandle runbook, out StringHandle json);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ResultCode pcdr_runbook_cancel(RunbookHandle runbook);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ResultCode pcdr_runbook_set_progress_callback(RunbookHandle runbook, ProgressCallback callback, IntPtr userData);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void pcdr_string_free(IntPtr s);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ResultCode pcdr_error_message(byte[] buf, UIntPtr len, out UIntPtr needed);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ResultCode pcdr_error_step(byte[] buf, UIntPtr len, out UIntPtr needed);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ResultCode pcdr_error_precondition(byte[] buf, UIntPtr len, out UIntPtr needed);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint pcdr_error_sql_number();
    }
}
