using System.Globalization;

namespace Components.Trainers.NeuralNetwork;

/// <summary>
/// Parameters of a <see cref="RetinaLayer"/>: an eccentricity-dependent Gaussian blur whose standard deviation (in
/// pixels) grows linearly with the distance r (in pixels) of the output pixel from the fixation point,
/// σ(r) = <see cref="SigmaAtFixation"/> + <see cref="SigmaSlope"/> · r.
/// </summary>
/// <remarks>
/// Elsayed et al. (2018, arXiv:1802.08195) put a "retina" in front of every model of the attacked ensemble: a blur
/// that is sharp at the fixation point (the fovea) and coarser towards the periphery, as human acuity falls roughly
/// linearly with eccentricity. No code was published; the linear law, its two parameters, the truncation and the
/// per-pixel normalisation are this suite's choices (docs/transforms/adversarial.md).
/// </remarks>
public sealed record RetinaSettings
{
    /// <summary>Default slope: 0.08 pixel of σ per pixel of eccentricity (σ ≈ 1.1 px at the corner of a 28×28 image).</summary>
    public const double DefaultSigmaSlope = 0.08;

    /// <summary>Default truncation: 3 σ.</summary>
    public const double DefaultTruncation = 3.0;

    /// <summary>Creates and validates the settings.</summary>
    /// <param name="sigmaSlope">dσ/dr, non-negative and finite (0 with σ(0) = 0 is the identity).</param>
    /// <param name="sigmaAtFixation">σ(0) in pixels, non-negative and finite; 0 leaves the fixation pixel unchanged.</param>
    /// <param name="fixationRow">Fixation row in pixels (may be fractional); null = the image centre, (H − 1)/2.</param>
    /// <param name="fixationColumn">Fixation column in pixels; null = the image centre, (W − 1)/2.</param>
    /// <param name="truncation">Kernel radius in units of the local σ, at least 1 and finite. Default 3.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is negative, not finite, or the truncation is below 1.</exception>
    public RetinaSettings(double sigmaSlope = DefaultSigmaSlope, double sigmaAtFixation = 0, double? fixationRow = null, double? fixationColumn = null,
        double truncation = DefaultTruncation)
    {
        if (!(sigmaSlope >= 0) || !double.IsFinite(sigmaSlope))
            throw new ArgumentOutOfRangeException(nameof(sigmaSlope), sigmaSlope, "The σ slope must be non-negative and finite.");
        if (!(sigmaAtFixation >= 0) || !double.IsFinite(sigmaAtFixation))
            throw new ArgumentOutOfRangeException(nameof(sigmaAtFixation), sigmaAtFixation, "σ at the fixation point must be non-negative and finite.");
        if (fixationRow is double fr && !double.IsFinite(fr))
            throw new ArgumentOutOfRangeException(nameof(fixationRow), fr, "The fixation row must be finite.");
        if (fixationColumn is double fc && !double.IsFinite(fc))
            throw new ArgumentOutOfRangeException(nameof(fixationColumn), fc, "The fixation column must be finite.");
        if (!(truncation >= 1) || !double.IsFinite(truncation))
            throw new ArgumentOutOfRangeException(nameof(truncation), truncation, "The truncation must be at least 1 (σ) and finite.");
        SigmaSlope = sigmaSlope;
        SigmaAtFixation = sigmaAtFixation;
        FixationRow = fixationRow;
        FixationColumn = fixationColumn;
        Truncation = truncation;
    }

    /// <summary>dσ/dr: pixels of blur σ per pixel of distance from the fixation point.</summary>
    public double SigmaSlope { get; }

    /// <summary>σ(0) in pixels: the blur at the fixation point (0 = sharp).</summary>
    public double SigmaAtFixation { get; }

    /// <summary>Fixation row in pixels, or null for the image centre.</summary>
    public double? FixationRow { get; }

    /// <summary>Fixation column in pixels, or null for the image centre.</summary>
    public double? FixationColumn { get; }

    /// <summary>Each output pixel averages the input pixels within Truncation · σ(r) of it (Gaussian weights, renormalised).</summary>
    public double Truncation { get; }

    /// <summary>Summary, e.g. <c>retina σ=0+0.08r</c>.</summary>
    public override string ToString()
        => string.Create(CultureInfo.InvariantCulture, $"retina σ={SigmaAtFixation:G4}+{SigmaSlope:G4}r") + (FixationRow is null && FixationColumn is null ? "" : string.Create(CultureInfo.InvariantCulture, $" at ({FixationRow},{FixationColumn})"));

    // *** Binary format *** (after the architecture's σ_b² when the retina flag is set in the kind)
    // double: σ slope; double: σ(0); double: fixation row (NaN = centre); double: fixation column (NaN = centre); double: truncation
    internal void Write(BinaryWriter w)
    {
        w.Write(SigmaSlope);
        w.Write(SigmaAtFixation);
        w.Write(FixationRow ?? double.NaN);
        w.Write(FixationColumn ?? double.NaN);
        w.Write(Truncation);
    }

    internal static RetinaSettings Read(BinaryReader r)
    {
        double slope = r.ReadDouble(), s0 = r.ReadDouble(), fr = r.ReadDouble(), fc = r.ReadDouble(), t = r.ReadDouble();
        return new RetinaSettings(slope, s0, double.IsNaN(fr) ? null : fr, double.IsNaN(fc) ? null : fc, t);
    }
}
