using System.Diagnostics;
using Components.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Samplers.Sampling;

/// <summary>Runs a transition kernel on parallel chains, recording states (the shared sampling loop).</summary>
internal static class ChainRunner
{
    /// <summary>
    /// Runs <paramref name="burnIn"/> unrecorded transitions, then records the state before each of
    /// <paramref name="steps"/> × <paramref name="thin"/> further transitions, keeping every
    /// <paramref name="thin"/>-th (the reference records the state before each transition, so the first
    /// recorded state is the one reached after burn-in).
    /// </summary>
    /// <returns>The trace and the final states <c>[B·d]</c>.</returns>
    public static (ChainTrace Trace, float[] Final) Run(ITransitionKernel kernel, Tensor x0, int burnIn, int steps, int thin,
        TransitionNoise noise, CancellationToken cancellation, Func<int, string>? describeRow = null)
    {
        int b = (int)x0.shape[0], d = kernel.Energy.Dimension;
        var samples = new float[(long)steps * b * d];
        var prob = new double[steps];
        var accepted = new double[steps];
        using var outer = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var state = ChainState.Initialize(kernel.Energy, x0.detach().clone(), describeRow ?? (i => $"initial state {i}"));
        int transition = 0;
        for (int i = 0; i < burnIn; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            state = Advance(kernel, state, noise, transition++, b, d, out _, out _);
        }
        var clock = Stopwatch.StartNew();
        for (int s = 0; s < steps; s++)
        {
            TensorData.CopyTo(state.X, samples.AsSpan((int)((long)s * b * d), b * d));
            double p = 0, a = 0;
            for (int k = 0; k < thin; k++)
            {
                cancellation.ThrowIfCancellationRequested();
                state = Advance(kernel, state, noise, transition++, b, d, out var pk, out var ak);
                p += pk;
                a += ak;
            }
            prob[s] = p / thin;
            accepted[s] = a / thin;
        }
        clock.Stop();
        var final = TensorData.ToSingleArray(state.X);
        var trace = new ChainTrace(steps, b, d, samples, prob, accepted, (long)steps * thin * kernel.GradientsPerTransition, clock.Elapsed);
        return (trace, final);
    }

    /// <summary>Runs <paramref name="transitions"/> transitions and returns the final state and acceptance counts per chain.</summary>
    public static (float[] Final, float[] AcceptedFraction) RunToEnd(ITransitionKernel kernel, Tensor x0, int transitions, TransitionNoise noise,
        Func<int, string> describeRow, CancellationToken cancellation = default)
    {
        int b = (int)x0.shape[0], d = kernel.Energy.Dimension;
        using var outer = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var state = ChainState.Initialize(kernel.Energy, x0.detach().clone(), describeRow);
        var count = torch.zeros([b], ScalarType.Float32, x0.device);
        for (int t = 0; t < transitions; t++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            var inputs = noise.Next(t, b, d, x0.device);
            var (next, _, acc) = kernel.Step(state, inputs);
            var newCount = (count + acc.to_type(ScalarType.Float32)).MoveToOuterDisposeScope();
            MoveOut(next);
            Dispose(state);
            count.Dispose();
            count = newCount;
            state = next;
        }
        var final = TensorData.ToSingleArray(state.X);
        var frac = TensorData.ToSingleArray(transitions > 0 ? count / transitions : count);
        return (final, frac);
    }

    /// <summary>One transition inside its own dispose scope; the new state moves to the caller's scope.</summary>
    internal static ChainState Advance(ITransitionKernel kernel, ChainState state, TransitionNoise noise, int transition, int b, int d,
        out double meanProbability, out double acceptedFraction)
    {
        ChainState next;
        using (var scope = torch.NewDisposeScope())
        {
            var inputs = noise.Next(transition, b, d, state.X.device);
            (next, var p, var acc) = kernel.Step(state, inputs);
            meanProbability = p.mean().item<float>();
            acceptedFraction = acc.to_type(ScalarType.Float32).mean().item<float>();
            MoveOut(next);
        }
        Dispose(state);
        return next;
    }

    private static void MoveOut(ChainState s)
    {
        s.X.MoveToOuterDisposeScope();
        s.Energy.MoveToOuterDisposeScope();
        s.Gradient.MoveToOuterDisposeScope();
    }

    private static void Dispose(ChainState s)
    {
        s.X.Dispose();
        s.Energy.Dispose();
        s.Gradient.Dispose();
    }
}
