namespace Components.Core.Runtime;

/// <summary>
/// Base of every component's options (the nested <c>Options</c> class of a trainer or estimator, as in ML.NET): the
/// fields every component shares. A component whose computation draws no random numbers (or is a copy, as
/// LayerActivations) says so in its options' summary and does not read <see cref="Seed"/>.
/// </summary>
/// <remarks>
/// Components pass these three fields to <see cref="ComponentContext.Create"/>, which resolves them the same way for
/// all: the seed (an explicit value, else one drawn from the MLContext's random source, so <c>new MLContext(seed: 0)</c>
/// makes a pipeline reproducible), the device (the option, else <c>MLContext.GpuDeviceId</c> /
/// <c>FallbackToCpu</c>), and the cancellation token.
/// </remarks>
public abstract class ComponentOptions
{
    /// <summary>
    /// Seed of the component's private random streams (one independent sub-stream per purpose: initial weights,
    /// shuffling, validation split, sampling noise, …); null takes one from the MLContext's random source. For a fixed
    /// seed the CPU results are reproducible. Default null.
    /// </summary>
    public int? Seed;

    /// <summary>
    /// Device: <c>"cpu"</c>, <c>"cuda"</c> or <c>"cuda:N"</c>; null follows <c>MLContext.GpuDeviceId</c> and
    /// <c>FallbackToCpu</c> (the CPU when unset). A CUDA device needs a CUDA native backend (TorchSharp-cuda-*) in the
    /// application. Default null.
    /// </summary>
    public string? Device;

    /// <summary>
    /// Cancels long work (<c>Fit</c>, and sampling where the component documents it); checked between batches, steps
    /// or epochs, after which the call throws <see cref="OperationCanceledException"/>. Default none.
    /// </summary>
    public CancellationToken CancellationToken;
}
