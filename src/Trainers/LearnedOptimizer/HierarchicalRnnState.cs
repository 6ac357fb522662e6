using TorchSharp;
using static TorchSharp.torch;

namespace Components.Trainers.LearnedOptimizer;

/// <summary>
/// The optimizer state of one parameter tensor of n elements (flattened), in the meta-parameters' dtype on the
/// parameter's device. Owns its tensors.
/// </summary>
internal sealed class HierarchicalRnnTensorState : IDisposable
{
    /// <summary>The state entries in <see cref="HierarchicalRnnOptimizer.StateDict"/> order (suffixes of <c>tensor.{i}.</c>).</summary>
    public static readonly string[] EntryNames =
        ["parameter_hidden", "input_decay", "scale_decay", "log_learning_rate", "gradient_accumulators", "mean_squares", "tensor_hidden", "steps"];

    /// <summary>Per-parameter GRU states [n, P].</summary>
    public required Tensor ParameterHidden { get; init; }

    /// <summary>Per-parameter momentum decay β₁ of the shortest timescale [n] (0 before the first step).</summary>
    public required Tensor InputDecay { get; init; }

    /// <summary>Per-parameter mean-square decay [n] (0 before the first step).</summary>
    public required Tensor ScaleDecay { get; init; }

    /// <summary>Per-parameter log learning rate [n].</summary>
    public required Tensor LogLearningRate { get; init; }

    /// <summary>Gradient accumulators (momentum) at the K timescales [n, K].</summary>
    public required Tensor GradientAccumulators { get; init; }

    /// <summary>Mean squares of the accumulators [n, K].</summary>
    public required Tensor MeanSquares { get; init; }

    /// <summary>Per-tensor GRU state [1, T].</summary>
    public required Tensor TensorHidden { get; init; }

    /// <summary>Steps taken on this tensor.</summary>
    public required long Steps { get; set; }

    /// <summary>The tensors in <see cref="EntryNames"/> order, <see cref="Steps"/> as a float64 scalar (a new tensor the caller disposes).</summary>
    public Tensor[] Entries() =>
        [ParameterHidden, InputDecay, ScaleDecay, LogLearningRate, GradientAccumulators, MeanSquares, TensorHidden, tensor((double)Steps, ScalarType.Float64)];

    /// <summary>A copy with every tensor detached from the graph and from any dispose scope (the caller owns it).</summary>
    public HierarchicalRnnTensorState DetachedCopy()
    {
        static Tensor C(Tensor t) => t.detach().clone().DetachFromDisposeScope();
        return new HierarchicalRnnTensorState
        {
            ParameterHidden = C(ParameterHidden), InputDecay = C(InputDecay), ScaleDecay = C(ScaleDecay), LogLearningRate = C(LogLearningRate),
            GradientAccumulators = C(GradientAccumulators), MeanSquares = C(MeanSquares), TensorHidden = C(TensorHidden), Steps = Steps,
        };
    }

    /// <summary>Removes every tensor from the current dispose scope.</summary>
    public HierarchicalRnnTensorState Detached()
    {
        foreach (var t in Entries()[..^1])
            t.DetachFromDisposeScope();
        return this;
    }

    public void Dispose()
    {
        ParameterHidden.Dispose();
        InputDecay.Dispose();
        ScaleDecay.Dispose();
        LogLearningRate.Dispose();
        GradientAccumulators.Dispose();
        MeanSquares.Dispose();
        TensorHidden.Dispose();
    }
}

/// <summary>The whole optimizer state: one <see cref="HierarchicalRnnTensorState"/> per parameter tensor and the global GRU state [1, G].</summary>
internal sealed class HierarchicalRnnState : IDisposable
{
    public required HierarchicalRnnTensorState[] Tensors { get; init; }

    public required Tensor GlobalHidden { get; init; }

    /// <summary>A copy with every tensor detached from the graph and from any dispose scope (the caller owns it).</summary>
    public HierarchicalRnnState DetachedCopy() =>
        new() { Tensors = [.. Tensors.Select(t => t.DetachedCopy())], GlobalHidden = GlobalHidden.detach().clone().DetachFromDisposeScope() };

    public HierarchicalRnnState Detached()
    {
        foreach (var t in Tensors)
            t.Detached();
        GlobalHidden.DetachFromDisposeScope();
        return this;
    }

    public void Dispose()
    {
        foreach (var t in Tensors)
            t.Dispose();
        GlobalHidden.Dispose();
    }
}
