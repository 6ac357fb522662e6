using Components.Core.Mapping;
using Components.Core.Persistence;
using Components.Core.Trainers;
using Components.Kernels.Nngp;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace Components.Trainers.Nngp;

/// <summary>
/// A fitted NNGP Gaussian-process classifier. Appends <c>Score</c>: calibrated class probabilities
/// softmax(μ/T), with μ the posterior means of the one-hot − 1/K targets and the temperature T fitted on the training
/// rows' closed-form leave-one-out means; <c>PredictedLabel</c>: the argmax, as a key with the class names;
/// <c>PosteriorMean</c>: μ itself, one value per class; and, when variances were kept, <c>Variance</c>: the posterior
/// variance of each class's latent mean on the targets' scale (σ̂²·(k** − k*ᵀC⁻¹k*), shared by all classes).
/// Models saved in format 1 (before calibration) load with their old outputs: <c>Score</c> = μ, no
/// <c>PosteriorMean</c>, <c>Variance</c> on the kernel's scale.
/// Saved with <c>mlContext.Model.Save</c>: training features, weights, the factor needed for variances, σ̂² and T.
/// </summary>
[ComponentModel(LoaderSignature)]
public sealed class NngpMulticlassModel : NngpModel
{
    internal const string LoaderSignature = "NngpMulticlassModel";
    private static readonly ModelVersion s_version = new("NNGPMCLS", 2, 1, LoaderSignature);
    private readonly string _scoreColumn, _predictedColumn, _meanColumn;
    private readonly string[] _classNames;
    private readonly double _inverseTemperature;

    internal NngpMulticlassModel(IHostEnvironment env, NngpModelParameters parameters, string featureColumn, string scoreColumn, string predictedColumn,
        string meanColumn, string varianceColumn, string[] classNames, double inverseTemperature, int batchSize, IReadOnlyList<NngpSelectionEntry>? selection)
        : base(env, nameof(NngpMulticlassModel), parameters, featureColumn, varianceColumn,
            TaskOutputs(classNames, scoreColumn, predictedColumn, meanColumn, double.IsNaN(inverseTemperature)), batchSize, selection)
    {
        _scoreColumn = scoreColumn;
        _predictedColumn = predictedColumn;
        _meanColumn = meanColumn;
        _classNames = classNames;
        _inverseTemperature = inverseTemperature;
    }

    private static IEnumerable<OutputColumn> TaskOutputs(string[] classNames, string scoreColumn, string predictedColumn, string meanColumn, bool legacy)
    {
        var outputs = PredictionColumns.Multiclass(classNames, scoreColumn, predictedColumn);
        return legacy ? outputs : [.. outputs, OutputColumn.Vector(meanColumn, classNames.Length, classNames)];
    }

    /// <summary>Class names, in score order.</summary>
    public IReadOnlyList<string> ClassNames => _classNames;

    /// <summary>
    /// The fitted temperature T of <c>Score</c> = softmax(μ/T) (minimises the leave-one-out log-loss); NaN for a model
    /// saved in format 1, whose <c>Score</c> is μ.
    /// </summary>
    public double Temperature => 1 / _inverseTemperature;

    private bool IsLegacy => double.IsNaN(_inverseTemperature);

    /// <inheritdoc/>
    protected internal override void MapBatch(BatchData batch)
    {
        int k = _classNames.Length;
        if (IsLegacy)
        {
            PredictBatch(batch, meanOutput: 0, varianceOutput: 2, includeNoise: false);
            PredictionColumns.ArgMaxKeys(batch.Output(0), k, batch.Output(1));
            return;
        }
        PredictBatch(batch, meanOutput: 2, varianceOutput: 3, includeNoise: false);
        PredictionColumns.ArgMaxKeys(batch.Output(2), k, batch.Output(1));
        NngpCalibration.Softmax(batch.Output(2), k, _inverseTemperature, batch.Output(0));
    }

    // *** Binary format ***
    // string feature column, score column, predicted-label column, variance column; int batch size; string[] class names;
    // format 2: string posterior-mean column, double inverse temperature 1/T (NaN: a format-1 model re-saved);
    // then the NngpModelParameters block.
    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        var w = ModelSaveWriter.Begin(ctx, s_version, typeof(NngpMulticlassModel));
        w.Writer.Write(FeatureColumnName);
        w.Writer.Write(_scoreColumn);
        w.Writer.Write(_predictedColumn);
        w.Writer.Write(VarianceColumn);
        w.Writer.Write(SavedBatchSize);
        w.Writer.WriteStrings(_classNames);
        w.Writer.Write(_meanColumn);
        w.Writer.Write(_inverseTemperature);
        Model.Save(w);
    }

    /// <summary>Loads a model written by <see cref="SaveModel"/> (called by <c>mlContext.Model.Load</c>).</summary>
    public static NngpMulticlassModel Load(IHostEnvironment env, ModelLoadReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var r = reader.Begin(s_version);
        string features = r.ReadString(), score = r.ReadString(), predicted = r.ReadString(), variance = r.ReadString();
        int batch = r.ReadInt32();
        var names = r.ReadStrings(1 << 20);
        BinaryFormat.CheckDecode(batch > 0 && names.Length > 0, "header");
        string mean = NngpTrainerOptions.Defaults.PosteriorMeanColumnName;
        double beta = double.NaN;
        if (reader.VersionWritten >= 2)
        {
            mean = r.ReadString();
            beta = r.ReadDouble();
            BinaryFormat.CheckDecode(double.IsNaN(beta) || (double.IsFinite(beta) && beta > 0), "inverse temperature");
        }
        var parameters = NngpModelParameters.Load(reader, r, env, nameof(NngpMulticlassModel));
        BinaryFormat.CheckDecode(parameters.Outputs == names.Length, "class count");
        BinaryFormat.CheckDecode(double.IsNaN(beta) == !parameters.IsCalibrated, "calibration fields");
        return new NngpMulticlassModel(env, parameters, features, score, predicted, mean, variance, names, beta, batch, null);
    }
}
