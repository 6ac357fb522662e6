using Components.Core.Runtime;
using Components.Core.Schema;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Components.Transforms.Svcca;

/// <summary>
/// Fits SVCCA between two activation columns (e.g. two layers, or the same layer of two networks, on the same
/// datapoints) and produces a <see cref="SvccaTransformer"/> that appends the CCA-aligned projections. Fit streams the
/// data once, accumulating float64 covariances batch by batch: memory grows with neurons², not with rows.
/// </summary>
public sealed partial class SvccaEstimator : IEstimator<SvccaTransformer>
{
    private const string RoleA = "activation A";
    private const string RoleB = "activation B";
    private readonly IHostEnvironment _env;
    private readonly Options _options;

    /// <summary>Creates the estimator; prefer <c>ml.Transforms.Svcca(...)</c>.</summary>
    public SvccaEstimator(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(options.ColumnA), nameof(options.ColumnA), "Must be a column name.");
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(options.ColumnB), nameof(options.ColumnB), "Must be a column name.");
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(options.OutputColumnA), nameof(options.OutputColumnA), "Must be a column name.");
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(options.OutputColumnB), nameof(options.OutputColumnB), "Must be a column name.");
        Guard.CheckUserArg(options.Output != SvccaOutput.Both || options.OutputColumnA != options.OutputColumnB, nameof(options.OutputColumnB), "Must differ from OutputColumnA.");
        Guard.CheckUserArg(Enum.IsDefined(options.Output), nameof(options.Output), "Unknown output mode.");
        Guard.CheckUserArg(options.BatchSize > 0, nameof(options.BatchSize), "Must be positive.");
        Settings(options).Validate();
        _env = env;
        _options = options;
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ColumnRules.CheckVector(inputSchema, RoleA, _options.ColumnA);
        ColumnRules.CheckVector(inputSchema, RoleB, _options.ColumnB);
        var added = new List<SchemaShape.Column>();
        if (_options.Output != SvccaOutput.B)
            added.Add(SchemaShapes.SingleVector(_options.OutputColumnA));
        if (_options.Output != SvccaOutput.A)
            added.Add(SchemaShapes.SingleVector(_options.OutputColumnB));
        return SchemaShapes.Append(inputSchema, added.ToArray());
    }

    /// <inheritdoc/>
    public SvccaTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        int p = ColumnRules.CheckVector(input.Schema, RoleA, _options.ColumnA);
        int q = ColumnRules.CheckVector(input.Schema, RoleB, _options.ColumnB);
        using var ctx = ComponentContext.Create(_env, "Svcca", 0, _options.Device, _options.CancellationToken);
        using var acc = new SvccaAccumulator(p, q, ctx.Device) { NameA = _options.ColumnA, NameB = _options.ColumnB };
        Accumulate(input, acc, p, q, ctx);
        if (acc.Count == 0)
            throw new InvalidOperationException($"Columns '{_options.ColumnA}' and '{_options.ColumnB}': the data has no rows.");
        ctx.Info($"Accumulated covariances of {acc.Count} rows ({p} + {q} neurons); computing SVCCA.");
        var result = acc.Compute(Settings(_options));
        ctx.Info(result.ToString());
        return new SvccaTransformer(_env, _options.ColumnA, _options.ColumnB, _options.OutputColumnA, _options.OutputColumnB, _options.Output, result);
    }

    private void Accumulate(IDataView input, SvccaAccumulator acc, int p, int q, ComponentContext ctx)
    {
        var colA = input.Schema[_options.ColumnA];
        var colB = input.Schema[_options.ColumnB];
        int batch = _options.BatchSize;
        var bufA = new float[checked(batch * p)];
        var bufB = new float[checked(batch * q)];
        using var cursor = input.GetRowCursor(colA.Index == colB.Index ? [colA] : [colA, colB]);
        var getA = cursor.GetGetter<VBuffer<float>>(colA);
        var getB = cursor.GetGetter<VBuffer<float>>(colB);
        var va = default(VBuffer<float>);
        var vb = default(VBuffer<float>);
        int rows = 0;
        long row = 0;
        while (cursor.MoveNext())
        {
            getA(ref va);
            getB(ref vb);
            CopyRow(va, bufA.AsSpan(rows * p, p), colA.Name, row);
            CopyRow(vb, bufB.AsSpan(rows * q, q), colB.Name, row);
            row++;
            if (++rows == batch)
            {
                acc.Add(bufA, bufB, rows);
                rows = 0;
                ctx.CheckCancelled();
                ctx.Trace($"{row} rows accumulated");
            }
        }
        if (rows > 0)
            acc.Add(bufA.AsSpan(0, rows * p), bufB.AsSpan(0, rows * q), rows);
    }

    private static void CopyRow(in VBuffer<float> src, Span<float> dst, string column, long row)
    {
        if (src.Length != dst.Length)
            throw Guard.ExceptBadValue(column, row, $"vector of length {src.Length}, expected {dst.Length}");
        src.CopyTo(dst);
        foreach (var v in dst)
        {
            if (!float.IsFinite(v))
                throw Guard.ExceptBadValue(column, row, $"value {v} (activations must be finite)");
        }
    }

    internal static SvccaSettings Settings(Options o) => new()
    {
        VarianceFraction = o.VarianceFraction,
        Dimensions = o.Dimensions,
        Epsilon = o.Epsilon,
        Threshold = o.Threshold,
    };
}
