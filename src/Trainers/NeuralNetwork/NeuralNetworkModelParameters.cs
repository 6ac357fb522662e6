using Components.Core.Modules;
using Components.Core.Runtime;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// The trained state of a neural-network model (<c>model.LastTransformer.Model</c>): the network, its architecture
/// and the training history. Immutable; owned and disposed by the model transformer. Inference on several threads at
/// once is safe (a pool of copies of the network, see <see cref="ModuleSharing"/>).
/// </summary>
public sealed class NeuralNetworkModelParameters : IDisposable
{
    internal NeuralNetworkModelParameters(NeuralNetworkModule module, Device device, IReadOnlyList<NeuralNetworkEpoch> history, int bestEpoch)
        : this(new TorchModuleOwner<NeuralNetworkModule>(module, device, Factory(module.Architecture)), history, bestEpoch)
    {
    }

    internal NeuralNetworkModelParameters(TorchModuleOwner<NeuralNetworkModule> owner, IReadOnlyList<NeuralNetworkEpoch> history, int bestEpoch)
    {
        Owner = owner;
        TrainingHistory = history;
        BestEpoch = bestEpoch;
    }

    /// <summary>
    /// The trained network, on <see cref="Device"/>, in evaluation mode. Use it read-only (forward passes under
    /// <c>torch.no_grad()</c>, reading weights); do not train, move or dispose it.
    /// </summary>
    public NeuralNetworkModule Module => Owner.Module;

    /// <summary>The network's architecture (layers, widths, activation, initialisation variances).</summary>
    public NeuralNetworkArchitecture Architecture => Owner.Module.Architecture;

    /// <summary>The device the network lives on (the training device, or the loading MLContext's device after <c>Model.Load</c>).</summary>
    public Device Device => Owner.Device;

    /// <summary>Loss and metrics of every epoch run during training.</summary>
    public IReadOnlyList<NeuralNetworkEpoch> TrainingHistory { get; }

    /// <summary>The epoch whose weights the model holds: the last one, or the best one when early stopping restored it.</summary>
    public int BestEpoch { get; }

    internal TorchModuleOwner<NeuralNetworkModule> Owner { get; }

    /// <summary>Builds untrained networks of <paramref name="architecture"/>, for loading and for copies.</summary>
    internal static Func<NeuralNetworkModule> Factory(NeuralNetworkArchitecture architecture)
        => () => NeuralNetworkModule.CreateUninitialized(architecture);

    /// <summary>
    /// The device for a copy of the network that a transform owns: the <paramref name="device"/> option when given
    /// (resolved against the environment's GPU settings), else the network's own device.
    /// </summary>
    internal Device CopyDevice(IHostEnvironment env, string? device)
    {
        if (device is null)
            return Device;
        var settings = CatalogEnvironment.Settings(env);
        return DeviceResolver.Resolve(device, settings.GpuDeviceId, settings.FallbackToCpu);
    }

    /// <summary>A new owner of an independent copy of the network on <paramref name="device"/> (for transforms that carry their own network).</summary>
    internal TorchModuleOwner<NeuralNetworkModule> CopyOwner(Device device)
        => new(Owner.CloneModule(device), device, Factory(Architecture));

    /// <summary>Frees the network and its copies.</summary>
    public void Dispose() => Owner.Dispose();
}
