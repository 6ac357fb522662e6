namespace Components.Core.Mapping;

/// <summary>
/// One batch of rows handed to <see cref="AppendColumnsTransformer.MapBatch"/>: row-major input buffers (rows × size)
/// to read and output buffers (rows × width) to fill.
/// </summary>
public sealed class BatchData
{
    private readonly float[][] _inputs;
    private readonly float[][] _outputs;
    private readonly int[] _inputSizes;
    private readonly int[] _outputWidths;

    internal BatchData(IReadOnlyList<InputColumn> inputs, IReadOnlyList<OutputColumn> outputs, int capacity)
    {
        Capacity = capacity;
        _inputSizes = inputs.Select(c => c.Size).ToArray();
        _outputWidths = outputs.Select(c => c.BufferWidth).ToArray();
        _inputs = _inputSizes.Select(s => new float[checked(s * capacity)]).ToArray();
        _outputs = _outputWidths.Select(w => new float[checked(w * capacity)]).ToArray();
    }

    /// <summary>Maximum rows per batch.</summary>
    public int Capacity { get; }

    /// <summary>Rows in this batch.</summary>
    public int Rows { get; internal set; }

    /// <summary>
    /// Position (0-based row index in the source) of the batch's first row; the rows of a batch are consecutive.
    /// Components whose mapping is random can derive per-row randomness from it, so that results do not depend on
    /// how rows are batched (IDataView batches, PredictionEngine rows, a reloaded model).
    /// </summary>
    public long FirstRowPosition { get; internal set; }

    /// <summary>
    /// Names row <paramref name="row"/> of the batch in an error message: <c>row N</c> (its position in the source)
    /// when an IDataView is mapped, <c>the row</c> when a single row is mapped (PredictionEngine, whose positions
    /// keep counting across <c>Predict</c> calls).
    /// </summary>
    public string DescribeRow(int row) => SingleRow ? "the row" : $"row {FirstRowPosition + row}";

    /// <summary>True when the batch holds the one row of a row-to-row mapping (PredictionEngine).</summary>
    internal bool SingleRow { get; set; }

    /// <summary>Input <paramref name="index"/> as rows × size values.</summary>
    public ReadOnlySpan<float> Input(int index) => _inputs[index].AsSpan(0, Rows * _inputSizes[index]);

    /// <summary>Output <paramref name="index"/> as rows × width values, to fill.</summary>
    public Span<float> Output(int index) => _outputs[index].AsSpan(0, Rows * _outputWidths[index]);

    internal Span<float> InputRow(int index, int row) => _inputs[index].AsSpan(row * _inputSizes[index], _inputSizes[index]);

    internal ReadOnlySpan<float> OutputRow(int index, int row) => _outputs[index].AsSpan(row * _outputWidths[index], _outputWidths[index]);
}
