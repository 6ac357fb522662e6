using System.Globalization;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Core.Runtime;

/// <summary>
/// Resolves the TorchSharp device of a component: an explicit option (<c>"cpu"</c>, <c>"cuda"</c>, <c>"cuda:1"</c>)
/// wins; otherwise <c>MLContext.GpuDeviceId</c> selects a CUDA device, with <c>MLContext.FallbackToCpu</c> deciding
/// between a logged warning plus CPU and an error when CUDA is unavailable; otherwise the CPU.
/// </summary>
public static class DeviceResolver
{
    /// <summary>Parses and resolves a device.</summary>
    /// <param name="option">The component's device option, or null.</param>
    /// <param name="gpuDeviceId">MLContext.GpuDeviceId.</param>
    /// <param name="fallbackToCpu">MLContext.FallbackToCpu.</param>
    /// <param name="channel">Where the fallback warning goes (may be null).</param>
    /// <param name="cudaAvailable">Override for tests; default asks TorchSharp.</param>
    public static Device Resolve(string? option, int? gpuDeviceId, bool fallbackToCpu, IChannel? channel = null, bool? cudaAvailable = null)
    {
        if (!string.IsNullOrWhiteSpace(option))
        {
            var (type, index) = Parse(option);
            if (type == DeviceType.CPU)
                return torch.CPU;
            if (!(cudaAvailable ?? torch.cuda.is_available()))
            {
                throw new InvalidOperationException(
                    $"Device '{option}' was requested but CUDA is not available. Reference TorchSharp-cuda-linux (or -windows) " +
                    "instead of TorchSharp-cpu in the application, on a machine with an NVIDIA GPU, or use Device = \"cpu\".");
            }
            CheckIndex(index, option);
            return torch.device(DeviceType.CUDA, index);
        }
        if (gpuDeviceId is int id)
        {
            if (id < 0)
                throw new ArgumentOutOfRangeException(nameof(gpuDeviceId), id, "MLContext.GpuDeviceId must be non-negative.");
            if (cudaAvailable ?? torch.cuda.is_available())
            {
                CheckIndex(id, $"cuda:{id}");
                return torch.device(DeviceType.CUDA, id);
            }
            if (!fallbackToCpu)
            {
                throw new InvalidOperationException(
                    $"MLContext.GpuDeviceId is {id} and FallbackToCpu is false, but CUDA is not available. Reference " +
                    "TorchSharp-cuda-linux (or -windows) instead of TorchSharp-cpu in the application, or set FallbackToCpu = true.");
            }
            channel?.Warning(MessageSensitivity.None, $"MLContext.GpuDeviceId is {id} but CUDA is not available; falling back to the CPU.");
        }
        return torch.CPU;
    }

    /// <summary>
    /// Parses <c>cpu</c>, <c>cpu:N</c>, <c>cuda</c>, <c>cuda:N</c> (also <c>gpu</c>, <c>gpu:N</c>; case-insensitive), as
    /// torch's device strings; anything else throws <see cref="ArgumentOutOfRangeException"/> naming
    /// <paramref name="optionName"/>.
    /// </summary>
    /// <param name="option">The device string.</param>
    /// <param name="optionName">Name of the option the string came from, used in the exception.</param>
    public static (DeviceType Type, int Index) Parse(string option, string optionName = "Device")
    {
        ArgumentNullException.ThrowIfNull(option, optionName);
        var s = option.Trim().ToLowerInvariant();
        int colon = s.IndexOf(':');
        var kind = colon < 0 ? s : s[..colon];
        int index = -1;
        bool indexOk = colon < 0 || int.TryParse(s[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out index);
        if (indexOk && kind == "cpu")
            return (DeviceType.CPU, -1);
        if (indexOk && kind is "cuda" or "gpu")
            return (DeviceType.CUDA, Math.Max(index, 0));
        throw new ArgumentOutOfRangeException(optionName, option,
            $"Unknown device '{option}': expected \"cpu\", \"cuda\" or \"cuda:N\" (N a non-negative device index).");
    }

    private static void CheckIndex(int index, string option)
    {
        int count = torch.cuda.device_count();
        if (index >= count)
            throw new InvalidOperationException($"Device '{option}' does not exist: this machine has {count} CUDA device(s).");
    }
}
