namespace Components.Trainers.LearnedOptimizer.Fused;

/// <summary>Raw float32 pointers to one tensor's data and state (all contiguous, on the CPU), shared by both widths.</summary>
internal unsafe struct FusedTensorData
{
    public long N;
    public float* Gradient, Theta, M, V, H, InputDecay, ScaleDecay, LogLr;
    public bool FirstStep;

    /// <summary>Parameters [start, start + count) of this tensor (its state has K and P values per parameter).</summary>
    public readonly FusedTensorData Slice(long start, long count, int k, int p)
    {
        var s = this;
        s.N = count;
        s.Gradient += start; s.Theta += start; s.InputDecay += start; s.ScaleDecay += start; s.LogLr += start;
        s.M += start * k; s.V += start * k; s.H += start * p;
        return s;
    }
}
