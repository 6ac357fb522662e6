using TorchSharp;

namespace Components.Tests.Harness;

/// <summary>A fact that runs only where TorchSharp sees a CUDA device (never a hard-coded skip).</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!torch.cuda.is_available())
            Skip = "CUDA is not available (reference TorchSharp-cuda-linux on a GPU machine to run this test).";
    }
}
