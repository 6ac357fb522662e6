using Components.Core.Runtime;
using TorchSharp;

namespace Components.Tests.Core;

/// <summary>The threading default: its rules (never over a user's setting, never after libgomp started) and this process's state.</summary>
public sealed class NativeThreadingTests
{
    [Theory]
    [InlineData(NativeThreading.WaitPolicyVariable)]
    [InlineData(NativeThreading.SpinCountVariable)]
    public void AUserSettingIsNeverOverwritten(string userVariable)
    {
        bool wrote = false;
        var outcome = NativeThreading.Decide(linux: true, isSet: name => name == userVariable, libgompLoaded: () => false, setPassive: () => wrote = true);
        Assert.Equal(WaitPolicyOutcome.UserSetting, outcome);
        Assert.False(wrote);
    }

    [Fact]
    public void NothingIsWrittenOnceLibgompIsLoadedOrOffLinux()
    {
        bool wrote = false;
        Assert.Equal(WaitPolicyOutcome.TooLate, NativeThreading.Decide(true, _ => false, () => true, () => wrote = true));
        Assert.Equal(WaitPolicyOutcome.NotLinux, NativeThreading.Decide(false, _ => false, () => false, () => wrote = true));
        Assert.False(wrote);
    }

    [Fact]
    public void PassiveIsSetWhenNothingElseDecided()
    {
        int writes = 0;
        Assert.Equal(WaitPolicyOutcome.Applied, NativeThreading.Decide(true, _ => false, () => false, () => ++writes > 0));
        Assert.Equal(1, writes);
    }

    [Fact]
    public void ThisProcessStateMatchesTheOutcome()
    {
        var outcome = NativeThreading.Outcome;
        using var t = torch.ones(2); // libtorch (and its libgomp) is loaded from here on
        Assert.NotEqual(WaitPolicyOutcome.NotApplied, outcome);
        if (!OperatingSystem.IsLinux())
        {
            Assert.Equal(WaitPolicyOutcome.NotLinux, outcome);
            return;
        }
        Assert.True(NativeThreading.LibgompLoaded(), "libtorch_cpu.so on Linux depends on libgomp; /proc/self/maps should show it");
        string? native = NativeThreading.NativeValue(NativeThreading.WaitPolicyVariable);
        switch (outcome)
        {
            case WaitPolicyOutcome.Applied:
                Assert.Equal("PASSIVE", native);
                break;
            case WaitPolicyOutcome.UserSetting:
                Assert.True(Environment.GetEnvironmentVariable(NativeThreading.WaitPolicyVariable) is not null
                    || Environment.GetEnvironmentVariable(NativeThreading.SpinCountVariable) is not null
                    || native is not null || NativeThreading.NativeValue(NativeThreading.SpinCountVariable) is not null);
                break;
            case WaitPolicyOutcome.TooLate:
                Assert.Null(native); // the library wrote nothing
                break;
        }
        Assert.False(string.IsNullOrEmpty(NativeThreading.Describe()));
    }
}
