// The C# test of the C ABI, through pcdr-ffi/csharp/Pcdr.cs: the same checks as
// tests/c/pcdr_test.c (bad input, a dry-run plan, the failing run with events, cancel).
//
// Usage: mono PcdrTest.exe TOPOLOGY WORKDIR   (LD_LIBRARY_PATH holding libpcdr.so)
// Prints one line per failed check and closes with "N passed, N failed".
using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using Pcdr;

static class PcdrTest
{
    static int passed, failed;

    static void Check(bool ok, string what)
    {
        if (ok) { passed++; return; }
        failed++;
        Console.WriteLine("FAILED " + what);
    }

    // The code a call fails with, or Ok.
    static ResultCode CodeOf(Action call)
    {
        try { call(); return ResultCode.Ok; }
        catch (PcdrException e) { return e.Code; }
    }

    static PcdrException ErrorOf(Action call)
    {
        try { call(); return null; }
        catch (PcdrException e) { return e; }
    }

    // The raw entry points, to pass what the wrapper never would (NULL, bad bytes).
    static class Raw
    {
        [DllImport("pcdr", CallingConvention = CallingConvention.Cdecl)]
        internal static extern ResultCode pcdr_runbook_new_from_toml(byte[] toml, byte[] baseDir, IntPtr options, out IntPtr runbook);
        [DllImport("pcdr", CallingConvention = CallingConvention.Cdecl)]
        internal static extern ResultCode pcdr_runbook_plan(IntPtr runbook, byte[] procedure, out IntPtr json);
        [DllImport("pcdr", CallingConvention = CallingConvention.Cdecl)]
        internal static extern void pcdr_runbook_free(IntPtr runbook);
    }

    static Runbook Open(string topology, string journal, bool dryRun)
    {
        return Runbook.FromFile(topology, new Options { Journal = journal, DryRun = dryRun });
    }

    static void BadInput(string topology, string workdir)
    {
        IntPtr rb, json;
        Check(Raw.pcdr_runbook_new_from_toml(null, null, IntPtr.Zero, out rb) == ResultCode.NullParameter, "NULL toml");
        Check(Raw.pcdr_runbook_plan(IntPtr.Zero, new byte[] { 0 }, out json) == ResultCode.NullParameter, "NULL runbook");
        Check(Raw.pcdr_runbook_new_from_toml(new byte[] { 0xff, 0xfe, 0 }, null, IntPtr.Zero, out rb) == ResultCode.InvalidUtf8, "invalid UTF-8");
        Check(Raw.pcdr_runbook_plan(new IntPtr(12345678), new byte[] { 0 }, out json) == ResultCode.InvalidHandle, "forged handle");
        Raw.pcdr_runbook_free(IntPtr.Zero);

        string text = File.ReadAllText(topology).Replace("sql-dal.contoso.com", "sql dal.contoso.com");
        var bad = ErrorOf(() => Runbook.FromToml(text, null, null));
        Check(bad != null && bad.Code == ResultCode.Topology, "bad topology code");
        Check(bad != null && bad.Message.Contains("sites.backup.sql.host"), "bad topology names the key: " + (bad == null ? "" : bad.Message));

        using (var runbook = Open(topology, Path.Combine(workdir, "cs-step.journal"), false))
        {
            var unknown = ErrorOf(() => runbook.RunStep("failover", "no_such_step", null));
            Check(unknown != null && unknown.Code == ResultCode.UnknownStep, "unknown step code");
            Check(unknown != null && unknown.Message.Contains("use one of: check_sites"), "unknown step lists the ids");
            Check(CodeOf(() => runbook.Plan("failsideways")) == ResultCode.UnknownProcedure, "unknown procedure");
        }

        var twice = Open(topology, Path.Combine(workdir, "cs-free.journal"), true);
        twice.Dispose();
        twice.Dispose();
        bool refused = false;
        try { twice.Report(); } catch (ObjectDisposedException) { refused = true; }
        Check(refused, "a disposed runbook is refused");
    }

    static void DryRunPlan(string topology, string workdir)
    {
        using (var runbook = Open(topology, Path.Combine(workdir, "cs-plan.journal"), true))
        {
            string plan = runbook.Plan("failover");
            Check(plan.Contains("\"steps\":[") && plan.Contains("\"check_sites\""), "plan JSON");
            Check(runbook.Run("failover", null).Contains("\"kind\":\"planned\""), "dry run plans");
        }
        Check(Runbook.Version.Length > 0 && char.IsDigit(Runbook.Version[0]), "version");
    }

    static void FailingRun(string topology, string workdir)
    {
        using (var runbook = Open(topology, Path.Combine(workdir, "cs-run.journal"), false))
        {
            var events = new List<string>();
            var error = ErrorOf(() => runbook.Run("failover", events.Add));
            Check(error != null && error.IsStepFailure, "the run fails with a step code: " + (error == null ? "none" : error.Code.ToString()));
            Check(error != null && error.Step == "check_sites", "the error names check_sites");
            Check(events.Exists(e => e.Contains("\"event\":\"step_started\"")), "events arrived: " + events.Count);
            var resumed = ErrorOf(() => runbook.Resume(null));
            Check(resumed != null && resumed.IsStepFailure && resumed.Step == "check_sites", "resume stops at the same step");
            string report = runbook.Report();
            Check(report.Contains("\"step\":\"check_sites\"") && report.Contains("\"completed\":false"), "report names the step");
        }
    }

    static void CancelFromAnotherThread(string topology, string workdir)
    {
        using (var runbook = Open(topology, Path.Combine(workdir, "cs-cancel.journal"), false))
        {
            var canceller = new Thread(() => { Thread.Sleep(2); runbook.Cancel(); });
            canceller.Start();
            var code = CodeOf(() => runbook.Run("failover", null));
            canceller.Join();
            Check(code == ResultCode.Cancelled || ((uint)code >= 300 && (uint)code < 400), "cancelled or ended: " + code);
        }
    }

    static int Main(string[] args)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine("usage: PcdrTest.exe TOPOLOGY WORKDIR");
            return 2;
        }
        var tests = new Action<string, string>[] { BadInput, DryRunPlan, FailingRun, CancelFromAnotherThread };
        foreach (var test in tests)
        {
            try { test(args[0], args[1]); }
            catch (Exception e) { Check(false, test.Method.Name + " threw " + e); }
        }
        Console.WriteLine(passed + " passed, " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }
}
