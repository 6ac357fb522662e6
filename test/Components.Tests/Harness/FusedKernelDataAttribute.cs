using System.Reflection;
using Components.Trainers.LearnedOptimizer.Fused;
using Xunit.Sdk;

namespace Components.Tests.Harness;

/// <summary>
/// One theory row for a variant of the learned optimizer's fused CPU kernel: the first argument is the variant's name
/// (<c>"Avx512"</c> or <c>"Avx2"</c>, see <see cref="FusedCpuKernel"/>), then the row's other arguments. The row runs
/// where this CPU runs the variant (an AVX-512 CPU runs both) and is reported as skipped, with the reason, where it does
/// not: never a test that passes without running.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class FusedKernelDataAttribute : DataAttribute
{
    private readonly object[] _row;

    public FusedKernelDataAttribute(string kernel, params object[] arguments)
    {
        var variant = Enum.Parse<FusedCpuKernel>(kernel);
        if (variant == FusedCpuKernel.None)
            throw new ArgumentOutOfRangeException(nameof(kernel), kernel, "Name a fused kernel variant.");
        _row = [kernel, .. arguments];
        if (!HierarchicalRnnFusedCpuStep.IsSupported(variant))
            Skip = $"The fused CPU kernel {kernel} does not run on this CPU ({(variant == FusedCpuKernel.Avx512 ? "no Vector512 in hardware" : "no AVX2 + FMA")}; "
                + $"it runs {HierarchicalRnnFusedCpuStep.Detected}).";
    }

    /// <inheritdoc/>
    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => [_row];
}
