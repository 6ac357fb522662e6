namespace Components.Transforms.Svcca;

/// <summary>Which CCA-aligned projections <see cref="SvccaTransformer"/> appends.</summary>
public enum SvccaOutput
{
    /// <summary>Only the canonical variates of column A.</summary>
    A,

    /// <summary>Only the canonical variates of column B.</summary>
    B,

    /// <summary>Both (two columns whose i-th slots correlate with ρᵢ).</summary>
    Both,
}
