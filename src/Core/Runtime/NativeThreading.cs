using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Components.Core.Runtime;

/// <summary>What <see cref="NativeThreading"/> did about libtorch's OpenMP wait policy in this process.</summary>
public enum WaitPolicyOutcome
{
    /// <summary>Not decided yet (nothing of the suite has run).</summary>
    NotApplied,

    /// <summary><c>OMP_WAIT_POLICY=PASSIVE</c> was set before libtorch's OpenMP runtime started: idle threads sleep.</summary>
    Applied,

    /// <summary>The user set <c>OMP_WAIT_POLICY</c> or <c>GOMP_SPINCOUNT</c>; left as they are.</summary>
    UserSetting,

    /// <summary>libtorch's OpenMP runtime (libgomp) was already loaded, so its wait policy could not change any more.</summary>
    TooLate,

    /// <summary>Not Linux: libtorch's OpenMP runtime there is not libgomp; nothing was changed.</summary>
    NotLinux,
}

/// <summary>
/// The suite's one threading default: libtorch's CPU thread pool waits passively (its idle threads sleep instead of
/// spinning), so that the default thread count (one per core) is not many times slower than one thread when other
/// processes compete for the cores, while still using every core when they are free.
/// </summary>
/// <remarks>
/// <para>
/// The Linux libtorch in TorchSharp-cpu runs its intra-op pool (and MKL) on GNU OpenMP (the bundled
/// <c>libgomp-*.so.1</c>, a dependency of <c>libtorch_cpu.so</c>). By default libgomp threads spin up to 300,000
/// times (a few ms) at every barrier before they sleep; when the cores are oversubscribed a spinning thread burns
/// the time slice its partner needs to finish, and a TorchSharp workload of many small operations becomes tens of
/// times slower with two threads than with one (docs/benchmarks.md, "Threads"). <c>OMP_WAIT_POLICY=PASSIVE</c>
/// makes waiting threads block at once.
/// </para>
/// <para>
/// libgomp reads its environment once, when it is loaded, from the C library's environment; .NET's
/// <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach that on Linux. So the suite calls
/// libc's <c>setenv</c> when one of its assemblies is first used, which in an ordinary program is before the first
/// TorchSharp call loads libtorch. Rules: never overwrite a value the user set (<c>OMP_WAIT_POLICY</c> or
/// <c>GOMP_SPINCOUNT</c>, in the process environment or in .NET's copy); never act once libgomp is loaded (it would
/// be a no-op and the variable would misreport the state); nothing on other operating systems. The outcome is in
/// <see cref="Outcome"/> and in every component's log (<see cref="ComponentContext"/>). To keep libgomp's spinning,
/// start the process with <c>OMP_WAIT_POLICY</c> or <c>GOMP_SPINCOUNT</c> set (for example
/// <c>GOMP_SPINCOUNT=300000</c>, libgomp's own default); the thread count itself
/// (<c>torch.set_num_threads</c>) is never touched.
/// </para>
/// </remarks>
public static class NativeThreading
{
    /// <summary>The OpenMP variable the suite sets.</summary>
    public const string WaitPolicyVariable = "OMP_WAIT_POLICY";

    /// <summary>libgomp's own spin-count variable; a user setting of it also leaves the policy alone.</summary>
    public const string SpinCountVariable = "GOMP_SPINCOUNT";

    private static readonly object Gate = new();
    private static WaitPolicyOutcome s_outcome;

    /// <summary>What was done in this process (decided once, on first use of the suite).</summary>
    public static WaitPolicyOutcome Outcome
    {
        get
        {
            EnsureApplied();
            return s_outcome;
        }
    }

    /// <summary>A one-line description of <see cref="Outcome"/> for logs.</summary>
    public static string Describe() => Outcome switch
    {
        WaitPolicyOutcome.Applied => $"libtorch's OpenMP threads wait passively ({WaitPolicyVariable}=PASSIVE set by Components before libtorch started)",
        WaitPolicyOutcome.UserSetting => $"libtorch's OpenMP wait policy left as the user set it ({WaitPolicyVariable}={Environment.GetEnvironmentVariable(WaitPolicyVariable) ?? "unset"}, {SpinCountVariable}={Environment.GetEnvironmentVariable(SpinCountVariable) ?? "unset"})",
        WaitPolicyOutcome.TooLate => "libtorch's OpenMP runtime was loaded before Components: its threads spin while they wait; with other work on the cores, torch.set_num_threads(1) or starting the process with OMP_WAIT_POLICY=PASSIVE can be much faster",
        _ => "libtorch's OpenMP wait policy unchanged (not Linux)",
    };

    /// <summary>Decides and applies the default once per process; cheap afterwards. Called by every component.</summary>
    public static void EnsureApplied()
    {
        if (s_outcome != WaitPolicyOutcome.NotApplied)
            return;
        lock (Gate)
        {
            if (s_outcome == WaitPolicyOutcome.NotApplied)
                s_outcome = Decide();
        }
    }

#pragma warning disable CA2255 // a module initializer in a library: it must run before the first TorchSharp call loads libgomp
    [ModuleInitializer]
    internal static void OnLoad() => EnsureApplied();
#pragma warning restore CA2255

    private static WaitPolicyOutcome Decide()
        => Decide(OperatingSystem.IsLinux(), IsSet, LibgompLoaded, () => setenv(WaitPolicyVariable, "PASSIVE", 0) == 0);

    /// <summary>The rules, with the process's facts passed in (so tests can check them without changing the process).</summary>
    internal static WaitPolicyOutcome Decide(bool linux, Func<string, bool> isSet, Func<bool> libgompLoaded, Func<bool> setPassive)
    {
        if (!linux)
            return WaitPolicyOutcome.NotLinux;
        if (isSet(WaitPolicyVariable) || isSet(SpinCountVariable))
            return WaitPolicyOutcome.UserSetting;
        if (libgompLoaded())
            return WaitPolicyOutcome.TooLate;
        return setPassive() ? WaitPolicyOutcome.Applied : WaitPolicyOutcome.TooLate;
    }

    private static bool IsSet(string name)
        => Environment.GetEnvironmentVariable(name) is not null || getenv(name) != IntPtr.Zero;

    /// <summary>Whether a GNU OpenMP runtime is mapped into this process (then its settings are fixed).</summary>
    internal static bool LibgompLoaded()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                if (line.Contains("/libgomp", StringComparison.Ordinal))
                    return true;
            }
            return false;
        }
        catch (IOException)
        {
            return true; // unknown: do not claim a setting that may not take effect
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
    }

    /// <summary>The value the C library (and so libgomp) sees, or null.</summary>
    internal static string? NativeValue(string name)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        var p = getenv(name);
        return p == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(p);
    }

#pragma warning disable SA1300, IDE1006 // libc names
    [DllImport("libc", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int setenv(string name, string value, int overwrite);

    [DllImport("libc", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern IntPtr getenv(string name);
#pragma warning restore SA1300, IDE1006
}
