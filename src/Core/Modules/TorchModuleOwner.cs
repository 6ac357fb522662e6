using System.Collections.Concurrent;
using Components.Core.Persistence;
using Components.Core.Runtime;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Core.Modules;

/// <summary>
/// Owns a trained TorchSharp module inside a model: its device placement, its state-dict persistence inside the
/// ML.NET model zip, its disposal, and safe concurrent inference (several PredictionEngines on several threads, see
/// <see cref="ModuleSharing"/>). Models hold one and run every forward pass through <see cref="Run{T}"/>.
/// </summary>
/// <typeparam name="TModule">The module type.</typeparam>
/// <remarks>
/// <para>The module's parameters and buffers are detached from every dispose scope: the owner frees them in
/// <see cref="Dispose"/>. Copies for concurrent callers are made with the <c>create</c> factory (an untrained module of
/// the same structure) and the trained state dict.</para>
/// <para>Dispose the owner only when no inference is running.</para>
/// <example>
/// <code>
/// // in the model's constructor (trained module) or static Load:
/// _owner = TorchModuleOwner&lt;MyModule&gt;.Load(reader, () => new MyModule(arch), TorchModuleOwner&lt;MyModule&gt;.LoadingDevice(env));
/// // in MapBatch, inside a dispose scope and no_grad:
/// var y = _owner.Run(m => m.forward(x));
/// // in SaveModel:
/// _owner.Save(writer);
/// </code>
/// </example>
/// </remarks>
public sealed class TorchModuleOwner<TModule> : IDisposable
    where TModule : nn.Module
{
    private readonly Func<TModule> _create;
    private readonly object _gate = new();
    private readonly List<TModule> _copies = [];
    private readonly ConcurrentBag<TModule> _idle = [];
    private readonly SemaphoreSlim? _slots;
    private readonly ThreadLocal<TModule>? _perThread;
    private bool _disposed;

    /// <summary>Takes ownership of <paramref name="module"/>, moves it to <paramref name="device"/> and puts it in evaluation mode.</summary>
    /// <param name="module">The trained module (from now on owned by this object).</param>
    /// <param name="device">Where inference runs.</param>
    /// <param name="create">Builds an untrained module of the same structure (on the CPU), for copies.</param>
    /// <param name="sharing">How concurrent callers share the module (default <see cref="ModuleSharing.Pool"/>).</param>
    /// <param name="maxCopies">Most modules the pool holds (default <see cref="Environment.ProcessorCount"/>).</param>
    public TorchModuleOwner(TModule module, Device device, Func<TModule> create, ModuleSharing sharing = ModuleSharing.Pool, int? maxCopies = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(create);
        _create = create;
        Device = device;
        Sharing = sharing;
        Module = Place(module);
        switch (sharing)
        {
            case ModuleSharing.Pool:
                int max = maxCopies ?? Environment.ProcessorCount;
                if (max < 1)
                    throw new ArgumentOutOfRangeException(nameof(maxCopies), max, "The pool needs at least one module.");
                _slots = new SemaphoreSlim(max, max);
                _idle.Add(Module);
                break;
            case ModuleSharing.PerThreadClone:
                _perThread = new ThreadLocal<TModule>(Copy, trackAllValues: false);
                break;
        }
    }

    /// <summary>The trained module, on <see cref="Device"/>, in evaluation mode. Read it (weights, architecture); run it through <see cref="Run{T}"/>.</summary>
    public TModule Module { get; }

    /// <summary>The device the module lives on.</summary>
    public Device Device { get; }

    /// <summary>How concurrent callers share the module.</summary>
    public ModuleSharing Sharing { get; }

    /// <summary>Modules alive besides <see cref="Module"/> (copies made for concurrent callers).</summary>
    public int CopyCount
    {
        get
        {
            lock (_gate)
                return _copies.Count;
        }
    }

    /// <summary>Whether <see cref="Dispose"/> has run.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>
    /// Runs <paramref name="inference"/> on a module no other caller is using at the same time (per <see cref="Sharing"/>).
    /// Safe to call from several threads. Grad mode and dispose scope are the caller's (open <c>no_grad</c> for inference).
    /// With <see cref="ModuleSharing.Pool"/>, callers beyond the pool size wait for a module; do not nest calls (a
    /// nested call needs a second module, and waits forever if the pool has one slot).
    /// </summary>
    public T Run<T>(Func<TModule, T> inference)
    {
        ArgumentNullException.ThrowIfNull(inference);
        ObjectDisposedException.ThrowIf(_disposed, this);
        switch (Sharing)
        {
            case ModuleSharing.Lock:
                lock (_gate)
                    return inference(Module);
            case ModuleSharing.PerThreadClone:
                return inference(_perThread!.Value!);
            case ModuleSharing.Unsynchronized:
                return inference(Module);
            default:
                _slots!.Wait();
                TModule? module = null;
                try
                {
                    if (!_idle.TryTake(out module))
                        module = Copy();
                    return inference(module);
                }
                finally
                {
                    if (module is not null)
                        _idle.Add(module);
                    _slots.Release();
                }
        }
    }

    /// <summary>A new module with a copy of the trained state, on <paramref name="device"/> (default <see cref="Device"/>), in evaluation mode; the caller owns it.</summary>
    public TModule CloneModule(Device? device = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        device ??= Device;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var copy = _create();
        try
        {
            copy.to(device);
            copy.load_state_dict(Module.state_dict());
            return Place(copy, device);
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    /// <summary>Writes the module's state dict as the named stream of the model (default <c>TSModel</c>).</summary>
    public void Save(ModelSaveWriter writer, string stream = "TSModel")
    {
        ArgumentNullException.ThrowIfNull(writer);
        ObjectDisposedException.ThrowIf(_disposed, this);
        writer.SaveModule(Module, stream);
    }

    /// <summary>
    /// Builds the module on the CPU with <paramref name="create"/>, loads the state dict saved by <see cref="Save"/>, then
    /// moves it to <paramref name="device"/>.
    /// </summary>
    /// <exception cref="FormatException">The stream is missing or does not match the module.</exception>
    public static TorchModuleOwner<TModule> Load(ModelLoadReader reader, Func<TModule> create, Device device, string stream = "TSModel",
        ModuleSharing sharing = ModuleSharing.Pool)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(create);
        var module = create();
        try
        {
            reader.LoadModule(module, stream);
            return new TorchModuleOwner<TModule>(module, device, create, sharing);
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }

    /// <summary>The device a loaded model uses: the loading environment's <c>GpuDeviceId</c> (with <c>FallbackToCpu</c>), else the CPU.</summary>
    public static Device LoadingDevice(IHostEnvironment env)
    {
        var (_, gpu, fallback) = CatalogEnvironment.Settings(env);
        return DeviceResolver.Resolve(null, gpu, fallback);
    }

    /// <summary>Frees the module and every copy.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _perThread?.Dispose();
        _slots?.Dispose();
        lock (_gate)
        {
            foreach (var copy in _copies)
                Free(copy);
            _copies.Clear();
        }
        Free(Module);
    }

    // The state is detached from every scope, so free it explicitly rather than leave it to the finalizer.
    private static void Free(TModule module)
    {
        foreach (var p in module.parameters())
            p.Dispose();
        foreach (var b in module.buffers())
            b.Dispose();
        module.Dispose();
    }

    private TModule Copy()
    {
        var copy = CloneModule();
        lock (_gate)
        {
            if (_disposed)
            {
                Free(copy);
                throw new ObjectDisposedException(GetType().Name);
            }
            _copies.Add(copy);
        }
        return copy;
    }

    private TModule Place(TModule module, Device? device = null)
    {
        module.to(device ?? Device);
        module.eval();
        // The owner frees the state in Dispose: take it out of whatever dispose scope it was built or moved in.
        foreach (var p in module.parameters())
            p.DetachFromDisposeScope();
        foreach (var b in module.buffers())
            b.DetachFromDisposeScope();
        return module;
    }
}
