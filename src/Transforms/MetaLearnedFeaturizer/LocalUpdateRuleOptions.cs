using Components.Core.Runtime;

namespace Components.Transforms.MetaLearnedFeaturizer;

/// <summary>Sizes of the neuron-local update rule (its meta-parameters do not depend on the base network's widths or depth).</summary>
/// <remarks>The initialisation is drawn from <see cref="ComponentOptions.Seed"/> (0 when unset). The meta-trained shipped rule has the default sizes (<see cref="LocalUpdateRuleFile.LoadShipped"/>).</remarks>
public sealed class LocalUpdateRuleOptions : ComponentOptions
{
    /// <summary>Defaults.</summary>
    public static class Defaults
    {
        /// <summary>Channels of the top-down error signal d (the reference uses 32).</summary>
        public const int DeltaDim = 8;
        /// <summary>Width of the per-unit hidden features h (the reference uses 64).</summary>
        public const int HiddenDim = 16;
        /// <summary>Low-rank readout channels (the reference's num_grad_channels).</summary>
        public const int ReadoutChannels = 4;
        /// <summary>Initial value of every merge weight (the reference's 0.1).</summary>
        public const double MergeInit = 0.1;
        /// <summary>Weight decay subtracted after normalisation, ΔW −= w / DecayDivisor (the reference's 7).</summary>
        public const double DecayDivisor = 7.0;
        /// <summary>Whether per-unit sin/cos unit-ID features are fed (they break permutation equivariance on purpose).</summary>
        public const bool UseUnitIds = true;
    }

    /// <summary>Channels of the top-down error signal.</summary>
    public int DeltaDim = Defaults.DeltaDim;

    /// <summary>Width of the per-unit hidden features.</summary>
    public int HiddenDim = Defaults.HiddenDim;

    /// <summary>Low-rank readout channels.</summary>
    public int ReadoutChannels = Defaults.ReadoutChannels;

    /// <summary>Initial merge weight of each ΔW term.</summary>
    public double MergeInit = Defaults.MergeInit;

    /// <summary>Decay divisor (ΔW −= w / DecayDivisor after normalisation); must be positive.</summary>
    public double DecayDivisor = Defaults.DecayDivisor;

    /// <summary>Feed sin/cos unit IDs.</summary>
    public bool UseUnitIds = Defaults.UseUnitIds;

    internal void Validate()
    {
        if (DeltaDim < 1) throw new ArgumentOutOfRangeException(nameof(DeltaDim), DeltaDim, "Must be at least 1.");
        if (HiddenDim < 1) throw new ArgumentOutOfRangeException(nameof(HiddenDim), HiddenDim, "Must be at least 1.");
        if (ReadoutChannels < 1) throw new ArgumentOutOfRangeException(nameof(ReadoutChannels), ReadoutChannels, "Must be at least 1.");
        if (!double.IsFinite(MergeInit)) throw new ArgumentOutOfRangeException(nameof(MergeInit), MergeInit, "Must be finite.");
        if (!(DecayDivisor > 0) || !double.IsFinite(DecayDivisor)) throw new ArgumentOutOfRangeException(nameof(DecayDivisor), DecayDivisor, "Must be positive and finite.");
    }
}
