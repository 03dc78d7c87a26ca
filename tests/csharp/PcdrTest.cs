// The C# test of the C ABI, through pcdr-ffi/csharp/Pcdr.cs: the same checks as
// tests/c/pcdr_test.c (the options' layout and size, bad input, a dry-run plan, the
// procedures and their steps, the site a switchover moves to, the failing run with
// events, cancel; failover and failback on a served world, cancel and resume on a slow
// one, a switchover and back on a third).
//
// Usage: mono PcdrTest.exe TOPOLOGY WORKDIR [WORLD SLOW_WORLD SWITCH_WORLD]
//   (LD_LIBRARY_PATH holding libpcdr.so). WORLD, SLOW_WORLD and SWITCH_WORLD are the
//   topology.toml files of three fresh worlds served by `pcdr sim serve`, the second
//   with --statement-latency-ms 200; PCDR_BIN names the pcdr executable for `pcdr sim …`.
// What happened is decided from result codes, the step and the SQL Server number, never
// from message text; the message is only checked for what the header documents it names
// (a bad topology's key path, an unknown step's valid ids).
// Prints one line per failed check and closes with "N passed, N failed".
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
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

    // The binding's pcdr_options has the C layout: pcdr_options_init writes the size C
    // has, and options of another size are refused.
    static void OptionsLayout(string topology, string workdir)
    {
        Native.Options options;
        Check(Native.pcdr_options_init(out options) == ResultCode.Ok, "pcdr_options_init");
        Check(options.StructSize == Marshal.SizeOf(typeof(Native.Options)),
            "pcdr_options is " + options.StructSize + " bytes in C, " + Marshal.SizeOf(typeof(Native.Options)) + " in C#");
        Check(options.Journal == IntPtr.Zero && options.FailoverJournal == IntPtr.Zero && options.SwitchTo == IntPtr.Zero && options.DryRun == 0 && options.AcceptDataLoss == 0
            && options.AllowPrimaryReachable == 0 && options.SequentialRestore == 0 && options.ResumeStale == 0, "the defaults are all no");
        options.StructSize = 0;
        RunbookHandle rb;
        var code = Native.pcdr_runbook_new_from_file(Utf8.ToNative(topology), ref options, out rb);
        Check(code == ResultCode.UnknownOptionsSize, "options of another size are refused: " + code);
        Check(rb.IsInvalid, "no runbook for options of another size");
    }

    // SwitchTo reaches pcdr: "primary" and "backup" are taken, other text is refused
    // (InvalidArgument) before a runbook exists.
    static void SwitchTo(string topology, string workdir)
    {
        foreach (string site in new[] { "primary", "backup" })
        {
            using (var runbook = Runbook.FromFile(topology, new Options { SwitchTo = site, DryRun = true }))
            {
                Check(StepStatus(runbook.Plan("switchover"), "check_switchover") != "", "switch_to " + site + " is taken");
            }
        }
        foreach (string text in new[] { "sideways", "Backup", "" })
        {
            var refused = ErrorOf(() => Runbook.FromFile(topology, new Options { SwitchTo = text }));
            Check(refused != null && refused.Code == ResultCode.InvalidArgument && refused.Message.Contains("options.switch_to"),
                "switch_to \"" + text + "\" is refused: " + (refused == null ? "taken" : refused.Code + " " + refused.Message));
        }
    }

    static void DryRunPlan(string topology, string workdir)
    {
        using (var runbook = Open(topology, Path.Combine(workdir, "cs-plan.journal"), true))
        {
            string plan = runbook.Plan("failover");
            Check(plan.StartsWith("{\"schema_version\":2,", StringComparison.Ordinal), "plan JSON is versioned");
            Check(plan.Contains("\"steps\":[") && plan.Contains("\"check_sites\""), "plan JSON");
            Check(runbook.Run("failover", null).Contains("\"kind\":\"planned\""), "dry run plans");
        }
        Check(Runbook.Version.Length > 0 && char.IsDigit(Runbook.Version[0]), "version");
    }

    // The ids after each `key` ("\"id\":\"") in `json`, in order.
    static List<string> Ids(string json, string key)
    {
        var ids = new List<string>();
        for (int at = json.IndexOf(key, StringComparison.Ordinal); at >= 0; at = json.IndexOf(key, at, StringComparison.Ordinal))
        {
            at += key.Length;
            ids.Add(json.Substring(at, json.IndexOf('"', at) - at));
        }
        return ids;
    }

    // Each procedure Runbook.Procedures lists has the steps its plan shows, in order.
    static void Procedures(string topology, string workdir)
    {
        string json = Runbook.Procedures;
        Check(json.StartsWith("{\"schema_version\":1,\"procedures\":[", StringComparison.Ordinal), "procedures JSON is versioned: " + json);
        string[] entries = json.Split(new[] { "{\"name\":\"" }, StringSplitOptions.None).Skip(1).ToArray();
        Check(entries.Length >= 2, "at least two procedures: " + entries.Length);
        using (var runbook = Open(topology, Path.Combine(workdir, "cs-procedures.journal"), true))
        {
            foreach (string entry in entries)
            {
                string name = entry.Substring(0, entry.IndexOf('"'));
                var listed = Ids(entry, "{\"id\":\"");
                var planned = Ids(runbook.Plan(name), "{\"step\":\"");
                Check(listed.Count > 0 && listed.SequenceEqual(planned),
                    name + " lists the steps its plan shows: " + string.Join(",", listed) + " / " + string.Join(",", planned));
                string expected;
                if (NewSteps.TryGetValue(name, out expected))
                    Check(string.Join(" ", listed) == expected, name + " lists its steps: " + string.Join(" ", listed));
            }
        }
        Check(entries.Select(e => e.Substring(0, e.IndexOf('"'))).SequenceEqual(new[] { "failover", "failback", "prepare_failback", "switchover" }),
            "the procedures, in order: " + json);
    }

    // The steps of the procedures issue 16 added, in order.
    static readonly Dictionary<string, string> NewSteps = new Dictionary<string, string>
    {
        { "prepare_failback", "check_prepare_failback back_up_serving_database seed_primary ship_logs_to_primary" },
        { "switchover", "check_switchover record_log_shipping remove_incoming_log_shipping copy_backlog restore_backlog"
            + " fence_pool unmirror_serving_database back_up_tail_log copy_tail restore_tail recover_new_primary"
            + " set_switched_pool_state activate_switched_servers mirror_switched_database reverse_log_shipping" },
    };

    static void FailingRun(string topology, string workdir)
    {
        using (var runbook = Open(topology, Path.Combine(workdir, "cs-run.journal"), false))
        {
            var events = new List<string>();
            var error = ErrorOf(() => runbook.Run("failover", events.Add));
            Check(error != null && error.IsStepFailure, "the run fails with a step code: " + (error == null ? "none" : error.Code.ToString()));
            Check(error != null && error.Step == "check_sites", "the error names check_sites");
            Check(events.Exists(e => e.Contains("\"event\":\"step_started\"")), "events arrived: " + events.Count);
            var broken = new InvalidOperationException("the operator's handler broke");
            int calls = 0;
            var stopped = ErrorOf(() => runbook.Resume(json => { calls++; throw broken; }));
            Check(stopped != null && stopped.IsStepFailure && stopped.Step == "check_sites" && stopped.InnerException == broken,
                "a throwing handler: the step's own failure with the handler's exception inside: " + stopped);
            Check(calls == 1, "the handler is not called again after it threw: " + calls);
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

    // ---- End to end, on worlds served by `pcdr sim serve` ----

    // Runs `$PCDR_BIN sim COMMAND --dir WORLD ARGS…` and returns its exit code (-1 when
    // it did not end within 60 s).
    static int Sim(string topology, string command, params string[] args)
    {
        return Sim(false, topology, command, args);
    }

    // As Sim, with the command's output dropped when quiet.
    static int Sim(bool quiet, string topology, string command, params string[] args)
    {
        string pcdr = Environment.GetEnvironmentVariable("PCDR_BIN");
        if (pcdr == null) throw new InvalidOperationException("PCDR_BIN is not set");
        var all = new[] { "sim", command, "--dir", Path.GetDirectoryName(topology) }.Concat(args);
        var info = new ProcessStartInfo(pcdr, string.Join(" ", all.Select(Quote))) { UseShellExecute = false, RedirectStandardOutput = quiet };
        using (var process = Process.Start(info))
        {
            if (quiet) process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(60000)) { process.Kill(); return -1; }
            return process.ExitCode;
        }
    }

    static string Quote(string arg) { return "\"" + arg.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\""; }

    // The objects of a plan's "steps" array: each begins with {"step":"ID".
    static int StepCount(string plan) { return plan.Split(new[] { "{\"step\":\"" }, StringSplitOptions.None).Length - 1; }

    // The "status" of step id in a plan's JSON, or "" when absent.
    static string StepStatus(string plan, string id)
    {
        int step = plan.IndexOf("{\"step\":\"" + id + "\"", StringComparison.Ordinal);
        if (step < 0) return "";
        int next = plan.IndexOf("{\"step\":\"", step + 1, StringComparison.Ordinal);
        int at = plan.IndexOf("\"status\":\"", step, StringComparison.Ordinal);
        if (at < 0 || (next >= 0 && at > next)) return "";
        at += "\"status\":\"".Length;
        return plan.Substring(at, plan.IndexOf('"', at) - at);
    }

    static Runbook OpenWorld(string topology, string workdir, string journal)
    {
        return Runbook.FromFile(topology, new Options { Journal = Path.Combine(workdir, journal) });
    }

    // Runs procedure to its end and checks the outcome, the events and the report.
    // Every step starts and does its work, except that the steps maySkip lists may find
    // it done and skip: skips of them (-1: any number).
    static bool RunToCompletion(Runbook runbook, string procedure, int steps, string[] maySkip, int skips)
    {
        var events = new List<string>();
        PcdrException error = null;
        string outcome = "";
        try { outcome = runbook.Run(procedure, events.Add); }
        catch (PcdrException e) { error = e; }
        bool completed = outcome.Contains("\"kind\":\"completed\"") && outcome.Contains("\"completed\":true");
        Check(completed, procedure + " completed: " + (error == null ? outcome : error.Code + " at " + error.Step + ": " + error.Message));
        if (!completed) return false;
        Check(events.Count(e => e.Contains("\"event\":\"step_started\"")) == steps, procedure + " events: every step started");
        var skipped = events.Where(e => e.Contains("\"event\":\"step_skipped\"")).ToList();
        Check(events.Count(e => e.Contains("\"event\":\"step_finished\"")) == steps - skipped.Count, procedure + " events: every other step finished");
        Check((skips < 0 || skipped.Count == skips) && skipped.All(e => maySkip.Any(id => e.Contains("\"step\":\"" + id + "\""))),
            procedure + " events: only the steps that may skip skipped: " + string.Join(" ", skipped));
        Check(runbook.Report().Contains("\"completed\":true"), procedure + " report says completed");
        return completed;
    }

    static void WorldFailoverAndFailback(string world, string workdir)
    {
        using (var runbook = OpenWorld(world, workdir, "cs-world-failover.journal"))
        {
            string plan = runbook.Plan("failover");
            Check(StepCount(plan) == 9, "the failover plan has 9 steps: " + StepCount(plan));
            Check(StepStatus(plan, "check_sites") == "blocked", "check_sites blocked while the primary answers: " + StepStatus(plan, "check_sites"));
            Check(StepStatus(plan, "copy_log_backups") == "would_run", "copy_log_backups would run");
            var refused = ErrorOf(() => runbook.RunStep("failover", "check_sites", null));
            Check(refused != null && refused.Code == ResultCode.Precondition && refused.Step == "check_sites" && refused.SqlNumber == 0
                && refused.PreconditionKind == "primary_reachable",
                "check_sites refuses while the primary answers: " + (refused == null ? "ran" : refused.Code + " " + refused.Step + " " + refused.Message));
        }

        Check(Sim(world, "traffic", "--messages", "20", "--log-backup") == 0, "sim traffic with a log backup");
        Check(Sim(world, "traffic", "--messages", "3") == 0, "sim traffic");
        Check(Sim(world, "disaster", "--site", "primary") == 0, "sim disaster");

        bool failedOver;
        using (var runbook = OpenWorld(world, workdir, "cs-world-failover-2.journal"))
        {
            Check(StepStatus(runbook.Plan("failover"), "check_sites") == "would_run", "check_sites would run once the primary is down");
            // Pipelined, the copy step restored every log backup as it landed.
            failedOver = RunToCompletion(runbook, "failover", 9, new[] { "apply_unapplied_logs" }, 1);
        }
        Check(Sim(world, "verify", "--expect", "failed-over") == 0, "sim verify --expect failed-over");
        if (!failedOver) return;

        Check(Sim(world, "traffic", "--messages", "10") == 0, "sim traffic while failed over");
        Check(Sim(world, "rebuild", "--site", "primary") == 0, "sim rebuild");
        using (var runbook = OpenWorld(world, workdir, "cs-world-failback.journal"))
        {
            string plan = runbook.Plan("failback");
            Check(StepCount(plan) == 11, "the failback plan has 11 steps: " + StepCount(plan));
            Check(StepStatus(plan, "check_rebuilt_primary") == "would_run", "check_rebuilt_primary would run");
            RunToCompletion(runbook, "failback", 11, new string[0], 0);
        }
        Check(Sim(world, "traffic", "--messages", "5", "--log-backup") == 0, "sim traffic after failback");
        Check(Sim(world, "tick", "--minutes", "20") == 0, "sim tick");
        Check(Sim(world, "verify", "--expect", "normal") == 0, "sim verify --expect normal");
    }

    // The steps a switchover may find done: the catch-up of a secondary log shipping
    // already brought up to date, the unmirroring of a database no mirror partners, and
    // the tail's restore (pipelined, the copy step restored each file as it landed).
    static readonly string[] SwitchoverMaySkip =
        { "copy_backlog", "restore_backlog", "unmirror_serving_database", "restore_tail" };

    // Runs a switchover to its end in a new journal, with messages committed after the
    // last log backup (only the tail-log backup holds them); its report shows the pool's
    // outage, fenced by fence_pool and closed by the activation.
    static bool SwitchOver(string world, string workdir, string journal)
    {
        Check(Sim(world, "traffic", "--messages", "3") == 0, "sim traffic before " + journal);
        using (var runbook = OpenWorld(world, workdir, journal))
        {
            bool completed = RunToCompletion(runbook, "switchover", 15, SwitchoverMaySkip, -1);
            string report = runbook.Report();
            int outage = report.IndexOf("\"outage\":{", StringComparison.Ordinal);
            Check(outage >= 0 && report.IndexOf("\"fenced_by\":\"fence_pool\"", outage, StringComparison.Ordinal) >= 0
                && report.IndexOf("\"ended\":null", outage, StringComparison.Ordinal) < 0,
                journal + ": the outage is fenced by fence_pool and closed: " + report);
            return completed;
        }
    }

    // A switchover to the backup site while both sites answer, then one back: the world
    // is as before, log shipping to the backup site included.
    static void WorldSwitchoverAndBack(string world, string workdir)
    {
        Check(Sim(world, "traffic", "--messages", "20", "--log-backup") == 0, "sim traffic with a log backup (switch world)");
        using (var runbook = OpenWorld(world, workdir, "cs-world-switchover-plan.journal"))
        {
            string plan = runbook.Plan("switchover");
            Check(StepCount(plan) == 15, "the switchover plan has 15 steps: " + StepCount(plan));
            Check(StepStatus(plan, "check_switchover") == "would_run", "check_switchover would run: " + StepStatus(plan, "check_switchover"));
        }
        if (!SwitchOver(world, workdir, "cs-world-switchover.journal")) return;
        if (!SwitchOver(world, workdir, "cs-world-switchover-back.journal")) return;
        Check(Sim(world, "traffic", "--messages", "5", "--log-backup") == 0, "sim traffic after the switchover back");
        Check(Sim(world, "tick", "--minutes", "20") == 0, "sim tick (switch world)");
        Check(Sim(world, "verify", "--expect", "normal") == 0, "sim verify --expect normal (switch world)");
    }

    static void WorldCancelThenResume(string world, string workdir)
    {
        Check(Sim(world, "disaster", "--site", "primary") == 0, "sim disaster (slow world)");
        using (var runbook = OpenWorld(world, workdir, "cs-slow-failover.journal"))
        {
            int started = 0;
            var firstStepFinished = new ManualResetEventSlim(false);
            bool signalled = false;
            var canceller = new Thread(() =>
            {
                signalled = firstStepFinished.Wait(60000);
                runbook.Cancel();
            });
            canceller.Start();
            var error = ErrorOf(() => runbook.Run("failover", json =>
            {
                if (json.Contains("\"event\":\"step_started\"")) Interlocked.Increment(ref started);
                if (json.Contains("\"event\":\"step_finished\"")) firstStepFinished.Set();
            }));
            canceller.Join();
            Check(signalled, "the first step finished within 60 s");
            Check(error != null && error.Code == ResultCode.Cancelled,
                "the run returns Cancelled: " + (error == null ? "it completed" : error.Code + " " + error.Message));
            Check(started >= 1 && started < 9, "the run stopped early: " + started + " steps started");
            Check(runbook.Report().Contains("\"completed\":false"), "the report of the cancelled run");
            Check(Sim(true, world, "verify", "--expect", "failed-over") != 0, "the world is not failed over yet");

            // A handler that throws stops the resumed run too; its exception is the inner one.
            var broken = new InvalidOperationException("the dashboard is down");
            int calls = 0;
            var stopped = ErrorOf(() => runbook.Resume(json =>
            {
                calls++;
                if (json.Contains("\"event\":\"step_finished\"")) throw broken;
            }));
            Check(stopped != null && stopped.Code == ResultCode.Cancelled && stopped.InnerException == broken,
                "a throwing handler cancels the run: " + (stopped == null ? "it completed" : stopped.Code + " " + stopped.InnerException));
            Check(calls >= 2, "the handler ran until it threw: " + calls);
            Check(runbook.Report().Contains("\"completed\":false"), "the report after the handler threw");

            started = 0;
            string outcome = runbook.Resume(json => { if (json.Contains("\"event\":\"step_started\"")) started++; });
            Check(outcome.Contains("\"completed\":true"), "resume completes: " + outcome);
            Check(started >= 1 && started <= 9, "resume ran the rest and the checks again: " + started + " steps started");
        }
        Check(Sim(world, "verify", "--expect", "failed-over") == 0, "sim verify --expect failed-over (slow world)");
    }

    static int Main(string[] args)
    {
        if (args.Length != 2 && args.Length != 5)
        {
            Console.Error.WriteLine("usage: PcdrTest.exe TOPOLOGY WORKDIR [WORLD SLOW_WORLD SWITCH_WORLD]");
            return 2;
        }
        var tests = new Action<string, string>[] { OptionsLayout, SwitchTo, BadInput, DryRunPlan, Procedures, FailingRun, CancelFromAnotherThread };
        foreach (var test in tests)
        {
            try { test(args[0], args[1]); }
            catch (Exception e) { Check(false, test.Method.Name + " threw " + e); }
        }
        if (args.Length == 5)
        {
            var worldTests = new[]
            {
                Tuple.Create<Action<string, string>, string>(WorldFailoverAndFailback, args[2]),
                Tuple.Create<Action<string, string>, string>(WorldCancelThenResume, args[3]),
                Tuple.Create<Action<string, string>, string>(WorldSwitchoverAndBack, args[4]),
            };
            foreach (var test in worldTests)
            {
                try { test.Item1(test.Item2, args[1]); }
                catch (Exception e) { Check(false, test.Item1.Method.Name + " threw " + e); }
            }
        }
        Console.WriteLine(passed + " passed, " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }
}
