using System.Diagnostics;
using Components.Kernels.Nngp;

namespace Components.Tests.Kernels.Nngp;

/// <summary>The cache in front of /proc/meminfo: one read per maximum age, however many calls.</summary>
public sealed class ExpiringValueTests
{
    [Fact]
    public void ReadsTheSourceOncePerMaximumAge()
    {
        long now = 1_000;
        int reads = 0;
        var value = new ExpiringValue<int>(() => ++reads, TimeSpan.FromSeconds(2), () => now);
        for (int i = 0; i < 1000; i++)
            Assert.Equal(1, value.Get());
        now += Stopwatch.Frequency; // 1 s later: still fresh
        Assert.Equal(1, value.Get());
        now += Stopwatch.Frequency; // 2 s after the read: re-read
        Assert.Equal(2, value.Get());
        Assert.Equal(2, value.Get());
        Assert.Equal(2, reads);
    }
}
