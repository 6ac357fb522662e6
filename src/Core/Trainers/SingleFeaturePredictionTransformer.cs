using Components.Core.Mapping;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Components.Core.Trainers;

/// <summary>
/// Base of the transformers that suite trainers return: an <see cref="AppendColumnsTransformer"/> that reads one
/// known-size Single-vector feature column and exposes its immutable trained state as <see cref="Model"/>, so that
/// <c>model.LastTransformer.Model</c> is typed and ML.NET tools that take an
/// <see cref="ISingleFeaturePredictionTransformer{TModel}"/> (<c>PermutationFeatureImportance</c>) accept it.
/// </summary>
/// <typeparam name="TModel">The model-parameters class (immutable trained state). Disposed with the transformer when it is <see cref="IDisposable"/>.</typeparam>
/// <remarks>
/// Pair it with an estimator implementing <see cref="Microsoft.ML.Trainers.ITrainerEstimator{TTransformer, TModel}"/> (its
/// <c>Info</c> from <c>MlNetShim.CreateTrainerInfo</c>) and outputs from <see cref="PredictionColumns"/>.
/// </remarks>
public abstract class SingleFeaturePredictionTransformer<TModel> : AppendColumnsTransformer, ISingleFeaturePredictionTransformer<TModel>
    where TModel : class
{
    /// <summary>Creates the transformer.</summary>
    /// <param name="env">The environment (an MLContext).</param>
    /// <param name="name">Component name, used for the log channel.</param>
    /// <param name="model">The trained state; owned by this transformer from now on.</param>
    /// <param name="featureColumnName">The feature column read.</param>
    /// <param name="featureSize">Its vector length.</param>
    protected SingleFeaturePredictionTransformer(IHostEnvironment env, string name, TModel model, string featureColumnName, int featureSize)
        : base(env, name)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(featureColumnName);
        Model = model;
        FeatureColumnName = featureColumnName;
        FeatureColumnType = new VectorDataViewType(NumberDataViewType.Single, featureSize);
        Inputs = [new InputColumn(featureColumnName, featureSize, "feature")];
    }

    /// <summary>The trained model parameters.</summary>
    public TModel Model { get; }

    /// <summary>The feature column the model reads.</summary>
    public string FeatureColumnName { get; }

    /// <summary>The feature column's type: a known-size vector of Single.</summary>
    public DataViewType FeatureColumnType { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<InputColumn> Inputs { get; }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing && Model is IDisposable owned)
            owned.Dispose();
        base.Dispose(disposing);
    }
}
