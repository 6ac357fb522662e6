using System.Runtime.CompilerServices;
using Components.Core.Runtime;

namespace Components.Orleans;

/// <summary>Applies the suite's threading default (<see cref="NativeThreading"/>) before this assembly's first TorchSharp call.</summary>
internal static class NativeThreadingInitializer
{
#pragma warning disable CA2255 // must run before the first TorchSharp call loads libtorch's OpenMP runtime
    [ModuleInitializer]
    internal static void OnLoad() => NativeThreading.EnsureApplied();
#pragma warning restore CA2255
}
