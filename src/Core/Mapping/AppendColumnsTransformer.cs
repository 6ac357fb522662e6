using Components.Core.Schema;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Components.Core.Mapping;

/// <summary>
/// Base of every suite transformer that appends columns computed from Single-vector input columns. Rows are mapped
/// lazily in batches of <see cref="BatchSize"/> (one TorchSharp forward pass per batch); PredictionEngine maps row by
/// row through the same <see cref="MapBatch"/>. Input columns pass through unchanged.
/// </summary>
/// <remarks>
/// <see cref="MapBatch"/> may run on several cursors at once and must not mutate shared state.
/// </remarks>
public abstract class AppendColumnsTransformer : ITransformer, IDisposable
{
    private bool _disposed;

    /// <summary>Creates the transformer.</summary>
    /// <param name="env">The environment (an MLContext).</param>
    /// <param name="name">Component name, used for the log channel.</param>
    protected AppendColumnsTransformer(IHostEnvironment env, string name)
    {
        ArgumentNullException.ThrowIfNull(env);
        Host = env.Register(name);
    }

    /// <summary>The component's host (log, random source).</summary>
    protected IHost Host { get; }

    /// <summary>Input columns read for each row.</summary>
    protected abstract IReadOnlyList<InputColumn> Inputs { get; }

    /// <summary>Columns appended to each row.</summary>
    protected abstract IReadOnlyList<OutputColumn> Outputs { get; }

    /// <summary>Rows per batch when transforming an IDataView.</summary>
    protected virtual int BatchSize => 256;

    /// <summary>Fills the output buffers of <paramref name="batch"/> from its input buffers.</summary>
    protected internal abstract void MapBatch(BatchData batch);

    /// <summary>Writes the model; see <see cref="Persistence.ModelSaveWriter"/>.</summary>
    protected abstract void SaveModel(ModelSaveContext ctx);

    /// <inheritdoc/>
    public bool IsRowToRowMapper => true;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        CheckInputSchema(inputSchema);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        foreach (var o in Outputs)
            builder.AddColumn(o.Name, o.Type, o.BuildAnnotations(inputSchema));
        return builder.ToSchema();
    }

    /// <summary>Validates the input columns; the same rules the estimator applies.</summary>
    protected virtual void CheckInputSchema(DataViewSchema inputSchema)
    {
        foreach (var c in Inputs)
            ColumnRules.CheckVector(inputSchema, c.Role, c.Name, c.Size);
    }

    /// <inheritdoc/>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new AppendColumnsDataView(this, input, GetOutputSchema(input.Schema));
    }

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new AppendColumnsRowMapper(this, inputSchema, GetOutputSchema(inputSchema));
    }

    void ICanSaveModel.Save(ModelSaveContext ctx) => SaveModel(ctx);

    internal IReadOnlyList<InputColumn> InputColumns => Inputs;

    internal IReadOnlyList<OutputColumn> OutputColumns => Outputs;

    internal int EffectiveBatchSize => Math.Max(1, BatchSize);

    /// <summary>Releases native state (TorchSharp modules and tensors).</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases native state.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }
}
