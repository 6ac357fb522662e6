using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Core.Tensors;

/// <summary>Fast copies between managed spans and TorchSharp tensors (through the tensor's CPU storage).</summary>
public static class TensorData
{
    /// <summary>Creates a float32 tensor of <paramref name="shape"/> from <paramref name="values"/> on <paramref name="device"/>.</summary>
    public static Tensor FromSpan(ReadOnlySpan<float> values, long[] shape, Device? device = null)
    {
        var t = torch.empty(shape, ScalarType.Float32);
        if (t.numel() != values.Length)
        {
            t.Dispose();
            throw new ArgumentException($"Expected {ShapeText(shape)} = {NumElements(shape)} values, got {values.Length}.", nameof(values));
        }
        values.CopyTo(MemoryMarshal.Cast<byte, float>(t.bytes));
        return MoveTo(t, device);
    }

    /// <summary>Creates a float64 tensor of <paramref name="shape"/> from <paramref name="values"/> on <paramref name="device"/>.</summary>
    public static Tensor FromSpan(ReadOnlySpan<double> values, long[] shape, Device? device = null)
    {
        var t = torch.empty(shape, ScalarType.Float64);
        if (t.numel() != values.Length)
        {
            t.Dispose();
            throw new ArgumentException($"Expected {ShapeText(shape)} = {NumElements(shape)} values, got {values.Length}.", nameof(values));
        }
        values.CopyTo(MemoryMarshal.Cast<byte, double>(t.bytes));
        return MoveTo(t, device);
    }

    /// <summary>Copies a float32 tensor (any device, any layout) into <paramref name="destination"/>.</summary>
    public static void CopyTo(Tensor tensor, Span<float> destination)
    {
        using var scope = torch.NewDisposeScope();
        var t = tensor.detach().to(ScalarType.Float32).cpu().contiguous();
        MemoryMarshal.Cast<byte, float>(t.bytes).CopyTo(destination);
    }

    /// <summary>Copies a float64 tensor (any device, any layout) into <paramref name="destination"/>.</summary>
    public static void CopyTo(Tensor tensor, Span<double> destination)
    {
        using var scope = torch.NewDisposeScope();
        var t = tensor.detach().to(ScalarType.Float64).cpu().contiguous();
        MemoryMarshal.Cast<byte, double>(t.bytes).CopyTo(destination);
    }

    /// <summary>A new managed array with the tensor's values as float32.</summary>
    public static float[] ToSingleArray(Tensor tensor)
    {
        var a = new float[tensor.numel()];
        CopyTo(tensor, a);
        return a;
    }

    /// <summary>A new managed array with the tensor's values as float64.</summary>
    public static double[] ToDoubleArray(Tensor tensor)
    {
        var a = new double[tensor.numel()];
        CopyTo(tensor, a);
        return a;
    }

    private static Tensor MoveTo(Tensor t, Device? device)
    {
        if (device is null || device.type == DeviceType.CPU)
            return t;
        using (t)
            return t.to(device);
    }

    private static long NumElements(long[] shape) => shape.Aggregate(1L, (a, b) => a * b);

    private static string ShapeText(long[] shape) => "[" + string.Join(", ", shape) + "]";
}
