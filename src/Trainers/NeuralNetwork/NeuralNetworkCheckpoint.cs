namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// What <see cref="NeuralNetworkOptions.CheckpointCallback"/> receives: the network being trained at one point of the
/// run (before the first step, then after every optimizer step), with where that point lies. Valid only during the call.
/// </summary>
/// <remarks>
/// <see cref="Module"/> is the live network: read it (forward passes under <c>torch.no_grad()</c>, e.g.
/// <see cref="NeuralNetworkModule.ForwardLayers"/>, or copies of its weights) but do not train, move or dispose it.
/// After a step the callback runs inside the step's dispose scope: tensors it creates are freed when the step ends
/// unless it moves them out (<c>DetachFromDisposeScope()</c>).
/// </remarks>
public sealed class NeuralNetworkCheckpoint
{
    internal NeuralNetworkCheckpoint(NeuralNetworkModule module, int epoch, long step, long stepsPerEpoch)
    {
        Module = module;
        Epoch = epoch;
        Step = step;
        StepsPerEpoch = stepsPerEpoch;
    }

    /// <summary>The network being trained, with the weights after <see cref="Step"/> steps (read-only use).</summary>
    public NeuralNetworkModule Module { get; }

    /// <summary>1-based epoch of the last step taken; 0 before training.</summary>
    public int Epoch { get; }

    /// <summary>Optimizer steps (mini-batches) taken so far over the whole run; 0 before training.</summary>
    public long Step { get; }

    /// <summary>Mini-batches per epoch (the last one of an epoch may be smaller).</summary>
    public long StepsPerEpoch { get; }

    /// <summary>Training progress in epochs: <see cref="Step"/> / <see cref="StepsPerEpoch"/>.</summary>
    public double EpochsDone => (double)Step / StepsPerEpoch;

    /// <summary>Whether <see cref="Step"/> ends an epoch (false before training).</summary>
    public bool IsEpochEnd => Step > 0 && Step % StepsPerEpoch == 0;
}
