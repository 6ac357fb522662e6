namespace Components.Trainers.LearnedOptimizer.Fused;

/// <summary>The per-tensor constants of one fused-kernel call (weights flattened row-major, float32), shared by both widths.</summary>
internal sealed class FusedWeights
{
    public required int K, P;
    public required float[] WxT;     // [3P, I] (Wx transposed)
    public required float[] WhT;     // [3P, P] (Wh transposed)
    public required float[] OutW;    // [4, P]: direction, scale decay, input decay, log-lr change
    public required float[] OutB;    // [4] (direction's 0)
    public required float[] Shortcut; // [K]
    public required float StepSizeOffset, LrMomentum, MeanLogLr;
    public float MaxLogLr = (float)HierarchicalRnnUpdate.MaxLogLearningRate; // upper clip of the step log learning rate (the lower one is −33)

    private float[]? _gates;

    /// <summary>Whether the default-shape fast paths apply (K = 4, P = 10, 12 inputs).</summary>
    public bool IsDefaultShape => K == HierarchicalRnnFusedCpuStep.DefaultK && P == HierarchicalRnnFusedCpuStep.DefaultP;

    /// <summary>
    /// The GRU's weights for the default-shape paths, input-major per gate: [gate g ∈ {reset, update, candidate}]
    /// [input i: 12 x, then 10 h (r⊙h for the candidate)][column j: 10], so that one input row feeds ten accumulators.
    /// </summary>
    internal float[] DefaultGates => _gates ??= BuildGates();

    private float[] BuildGates()
    {
        const int p = HierarchicalRnnFusedCpuStep.DefaultP, ix = HierarchicalRnnFusedCpuStep.DefaultI, ni = ix + p;
        var r = new float[3 * ni * p];
        for (int g = 0; g < 3; g++)
            for (int i = 0; i < ni; i++)
                for (int j = 0; j < p; j++)
                {
                    int c = g * p + j;
                    r[(g * ni + i) * p + j] = i < ix ? WxT[c * ix + i] : WhT[c * p + i - ix];
                }
        return r;
    }
}
