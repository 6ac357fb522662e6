using Components.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Kernels.Nngp;

/// <summary>Inputs shared by the NNGP kernel tests.</summary>
internal static class NngpTestData
{
    /// <summary>Two inputs of dimension 2 with x·x/d = 1 and cosine <paramref name="cosine"/>.</summary>
    public static Tensor Pair(double cosine)
    {
        double r = Math.Sqrt(2.0);
        return torch.tensor(new[] { r, 0.0, r * cosine, r * Math.Sqrt(1 - cosine * cosine) }, [2, 2], ScalarType.Float64);
    }

    /// <summary>Gaussian rows with a fixed seed.</summary>
    public static Tensor Gaussian(int n, int d, ulong seed, double scale = 1.0)
    {
        using var g = new torch.Generator(seed);
        return torch.randn([n, d], ScalarType.Float64, generator: g) * scale;
    }

    public static double[,] ToMatrix(Tensor t)
    {
        var a = TensorData.ToDoubleArray(t);
        int r = (int)t.shape[0], c = (int)t.shape[1];
        var m = new double[r, c];
        for (int i = 0; i < r; i++)
        {
            for (int j = 0; j < c; j++)
                m[i, j] = a[i * c + j];
        }
        return m;
    }

    public static bool BitEqual(Tensor a, Tensor b)
    {
        var x = TensorData.ToDoubleArray(a);
        var y = TensorData.ToDoubleArray(b);
        if (x.Length != y.Length)
            return false;
        for (int i = 0; i < x.Length; i++)
        {
            if (BitConverter.DoubleToInt64Bits(x[i]) != BitConverter.DoubleToInt64Bits(y[i]))
                return false;
        }
        return true;
    }

    public static double MaxAbsDiff(Tensor a, Tensor b)
    {
        using var d = (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max();
        return d.item<double>();
    }
}
