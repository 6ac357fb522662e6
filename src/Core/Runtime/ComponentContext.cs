using Components.Core.Internal;
using Components.Core.Randomness;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Core.Runtime;

/// <summary>
/// What every component resolves once at the start of <c>Fit</c> (or load): its host and log channel (named after the
/// component, so <c>LoggingEventArgs.Source</c> can filter), the device, a seed with private per-purpose
/// <see cref="torch.Generator"/>s derived from it (<see cref="CreateGenerator"/>; the global torch seed is never
/// touched), and the cancellation token.
/// </summary>
public sealed class ComponentContext : IDisposable
{
    private ComponentContext(IHost host, IChannel channel, Device device, int seed, CancellationToken cancellation)
    {
        Host = host;
        Channel = channel;
        Device = device;
        Seed = seed;
        Cancellation = cancellation;
    }

    private readonly Dictionary<(string Purpose, DeviceType Type, int Index), torch.Generator> _generators = [];

    /// <summary>The component's host.</summary>
    public IHost Host { get; }

    /// <summary>The component's log channel.</summary>
    public IChannel Channel { get; }

    /// <summary>Where tensors live.</summary>
    public Device Device { get; }

    /// <summary>The resolved seed.</summary>
    public int Seed { get; }

    /// <summary>
    /// The generator of the random sub-stream <paramref name="purpose"/> (<c>"initialization"</c>, <c>"shuffle"</c>,
    /// <c>"training-noise"</c>, …) of <see cref="Seed"/>, on <paramref name="device"/> (default <see cref="Device"/>; a
    /// CUDA device gets a CUDA generator, anything else a CPU one). Streams of different purposes are independent
    /// (<see cref="RandomStreams"/>); asking again for the same purpose and device returns the same generator, which
    /// continues its stream instead of replaying it. The context owns and disposes the generators.
    /// </summary>
    /// <param name="purpose">What the stream is for; case-sensitive, non-empty.</param>
    /// <param name="device">Device of the generator; default <see cref="Device"/>.</param>
    public torch.Generator CreateGenerator(string purpose, Device? device = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(purpose);
        device ??= Device;
        var key = (purpose, device.type == DeviceType.CUDA ? DeviceType.CUDA : DeviceType.CPU, device.type == DeviceType.CUDA ? device.index : -1);
        if (!_generators.TryGetValue(key, out var generator))
            _generators[key] = generator = RandomStreams.CreateGenerator(Seed, purpose, device);
        return generator;
    }

    /// <summary>The cancellation token, checked per epoch, batch or step.</summary>
    public CancellationToken Cancellation { get; }

    /// <summary>Creates the context.</summary>
    /// <param name="env">An MLContext or the environment behind a catalog.</param>
    /// <param name="componentName">Name of the component (channel source).</param>
    /// <param name="seed">Explicit seed option; null takes one from the environment's random source (the MLContext seed).</param>
    /// <param name="device">Explicit device option; null follows MLContext.GpuDeviceId/FallbackToCpu.</param>
    /// <param name="cancellation">Cancellation token.</param>
    public static ComponentContext Create(IHostEnvironment env, string componentName, int? seed, string? device, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(env);
        var host = env.Register(componentName);
        // The channel is started on the environment, not on the host: a channel's log source is its parent's name
        // followed by its own, so host.Start(componentName) would log as "X; X". From an MLContext the source is
        // exactly the component name.
        var channel = env.Start(componentName);
        try
        {
            var settings = MlNetShim.GetEnvironmentSettings(env);
            var dev = DeviceResolver.Resolve(device, settings.GpuDeviceId, settings.FallbackToCpu, channel);
            if (NativeThreading.Outcome == WaitPolicyOutcome.TooLate)
                channel.Info(MessageSensitivity.None, NativeThreading.Describe());
            else
                channel.Trace(MessageSensitivity.None, NativeThreading.Describe());
            return new ComponentContext(host, channel, dev, seed ?? host.Rand.Next(), cancellation);
        }
        catch
        {
            channel.Dispose();
            throw;
        }
    }

    /// <summary>Logs an informational message (per epoch or phase).</summary>
    public void Info(string message) => Channel.Info(MessageSensitivity.None, message);

    /// <summary>Logs a trace message (per batch or step).</summary>
    public void Trace(string message) => Channel.Trace(MessageSensitivity.None, message);

    /// <summary>Logs a warning.</summary>
    public void Warning(string message) => Channel.Warning(MessageSensitivity.None, message);

    /// <summary>Throws <see cref="OperationCanceledException"/> if cancellation was requested.</summary>
    public void CheckCancelled() => Cancellation.ThrowIfCancellationRequested();

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var generator in _generators.Values)
            generator.Dispose();
        _generators.Clear();
        Channel.Dispose();
    }
}
