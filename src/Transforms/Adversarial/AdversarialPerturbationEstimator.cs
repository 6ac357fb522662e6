using Components.Core.Mapping;
using Components.Core.Modules;
using Components.Core.Runtime;
using Components.Core.Schema;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Components.Transforms.Adversarial;

/// <summary>
/// Appends adversarial images for an ensemble of trained neural-network classifiers, and their perturbations: a
/// targeted (or untargeted) iterative L∞ attack with an expectation over random shifts and noise
/// (<see cref="EnsembleAttack"/>). Fitting learns nothing: it checks the columns, resolves the seed and image shape and
/// copies the networks into the <see cref="AdversarialPerturbationTransformer"/>. Create it with
/// <c>ml.Transforms.AdversarialPerturbation(models, …)</c>.
/// </summary>
public sealed partial class AdversarialPerturbationEstimator : IEstimator<AdversarialPerturbationTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly NeuralNetworkMulticlassModel[] _models;
    private readonly Options _options;
    private readonly string _input;
    private readonly Device _device;

    internal AdversarialPerturbationEstimator(IHostEnvironment env, IReadOnlyList<NeuralNetworkMulticlassModel> models, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(options);
        _env = env;
        Guard.CheckUserArg(models.Count > 0, nameof(models), "The ensemble is empty: give at least one trained model.");
        for (int i = 0; i < models.Count; i++)
            Guard.CheckUserArg(models[i] is not null, nameof(models), $"Model {i} is null.");
        _models = [.. models];
        var first = _models[0];
        for (int i = 1; i < _models.Length; i++)
        {
            Guard.CheckUserArg(_models[i].Architecture.InputSize == first.Architecture.InputSize, nameof(models),
                $"Model {i} reads {_models[i].Architecture.InputSize} features, model 0 reads {first.Architecture.InputSize}: every member must read the same images.");
            Guard.CheckUserArg(_models[i].ClassNames.SequenceEqual(first.ClassNames), nameof(models),
                $"Model {i}'s classes [{string.Join(", ", _models[i].ClassNames)}] differ from model 0's [{string.Join(", ", first.ClassNames)}].");
        }
        _input = options.InputColumnName ?? first.FeatureColumnName;
        Validate(options, first.ClassNames);
        _options = options;
        _device = first.Model.CopyDevice(env, options.Device);
    }

    internal static void Validate(Options o, IReadOnlyList<string> classes)
    {
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(o.OutputColumnName), nameof(o.OutputColumnName), "Must be a column name.");
        Guard.CheckUserArg(!string.IsNullOrWhiteSpace(o.PerturbationColumnName), nameof(o.PerturbationColumnName), "Must be a column name.");
        Guard.CheckUserArg(o.PerturbationColumnName != o.OutputColumnName, nameof(o.PerturbationColumnName), $"Must differ from the output column '{o.OutputColumnName}'.");
        Guard.CheckUserArg(o.InputColumnName is null || !string.IsNullOrWhiteSpace(o.InputColumnName), nameof(o.InputColumnName), "Must be a column name or null.");
        Guard.CheckUserArg(o.Epsilon >= 0 && o.Epsilon <= 1, nameof(o.Epsilon), $"Must be in [0, 1] (pixels are in [0, 1]), got {o.Epsilon}.");
        Guard.CheckUserArg(o.StepSize > 0 && o.StepSize <= 1, nameof(o.StepSize), $"Must be in (0, 1], got {o.StepSize}.");
        Guard.CheckUserArg(o.Iterations > 0, nameof(o.Iterations), $"Must be positive, got {o.Iterations}.");
        Guard.CheckUserArg(o.TransformationSamples > 0, nameof(o.TransformationSamples), $"Must be positive, got {o.TransformationSamples}.");
        Guard.CheckUserArg(o.MaxShift >= 0, nameof(o.MaxShift), $"Must be non-negative, got {o.MaxShift}.");
        Guard.CheckUserArg(o.NoiseStandardDeviation >= 0 && double.IsFinite(o.NoiseStandardDeviation), nameof(o.NoiseStandardDeviation),
            $"Must be non-negative and finite, got {o.NoiseStandardDeviation}.");
        Guard.CheckUserArg(o.BatchSize > 0, nameof(o.BatchSize), $"Must be positive, got {o.BatchSize}.");
        if (o.Untargeted)
        {
            Guard.CheckUserArg(o.TargetMapping is null, nameof(o.TargetMapping), "A target mapping needs the targeted mode (Untargeted = false).");
            Guard.CheckUserArg(o.LabelColumnName is null || !string.IsNullOrWhiteSpace(o.LabelColumnName), nameof(o.LabelColumnName), "Must be a column name or null.");
        }
        else if (o.TargetMapping is { } map)
        {
            foreach (var (from, to) in map)
            {
                Guard.CheckUserArg(classes.Contains(from), nameof(o.TargetMapping), $"Unknown source class '{from}': the models' classes are [{string.Join(", ", classes)}].");
                Guard.CheckUserArg(classes.Contains(to), nameof(o.TargetMapping), $"Unknown target class '{to}': the models' classes are [{string.Join(", ", classes)}].");
            }
        }
        else
        {
            Guard.CheckUserArg(!string.IsNullOrWhiteSpace(o.TargetColumnName), nameof(o.TargetColumnName), "Must be a column name (or set TargetMapping).");
        }
    }

    /// <summary>The key column read per row (target, or true label when untargeted), or null when none is read.</summary>
    internal static string? ClassColumn(Options o) => o.Untargeted ? o.LabelColumnName : o.TargetMapping is null ? o.TargetColumnName : null;

    /// <summary>Checks the input column(s) and adds the two image columns.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing, of the wrong type, or the image shape is unknown.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var col = ColumnRules.CheckVector(inputSchema, "image", _input);
        bool annotated = col.Annotations.Any(a => a.Name == AnnotationNames.ImageShape);
        if (_options.ImageShape is null && !annotated && CnnShape(_models) is null)
        {
            throw Guard.ExceptSchemaMismatch("image", _input,
                "a Single vector with an ImageShape annotation (or set Options.ImageShape, or attack CNNs)", ColumnRules.Describe(col) + " without one");
        }
        if (ClassColumn(_options) is { } cls)
            ColumnRules.CheckKey(inputSchema, "class", cls);
        var outputs = new[]
        {
            SchemaShapes.SingleVector(_options.OutputColumnName, new SchemaShape(ImageShape.AnnotationShape())),
            SchemaShapes.SingleVector(_options.PerturbationColumnName, new SchemaShape(ImageShape.AnnotationShape())),
        };
        return SchemaShapes.Append(inputSchema, outputs);
    }

    /// <summary>Checks the columns, resolves the image shape and the seed, and copies the networks into a new transformer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing, of the wrong type or size, or the image shape is unknown or wrong.</exception>
    public AdversarialPerturbationTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var shape = ResolveShape(input.Schema, _input, _options.ImageShape, _models.Select(m => m.Architecture).ToArray());
        var classColumn = ClassColumn(_options);
        if (classColumn is not null)
            CheckClassColumn(input.Schema, classColumn, _models[0].ClassNames);
        int seed;
        using (var ctx = ComponentContext.Create(_env, nameof(AdversarialPerturbationEstimator), _options.Seed, null, _options.CancellationToken))
            seed = ctx.Seed;
        var settings = new EnsembleAttackSettings(_options.Epsilon, _options.StepSize, _options.Iterations, _options.Untargeted,
            _options.TransformationSamples, _options.MaxShift, _options.NoiseStandardDeviation, seed);
        var owners = new List<TorchModuleOwner<NeuralNetworkModule>>();
        try
        {
            foreach (var m in _models)
                owners.Add(m.Model.CopyOwner(_device));
        }
        catch
        {
            foreach (var o in owners)
                o.Dispose();
            throw;
        }
        var columns = new AdversarialColumns(_input, _options.OutputColumnName, _options.PerturbationColumnName, classColumn);
        var mapping = _options.TargetMapping?.ToDictionary(kv => kv.Key, kv => kv.Value);
        return new AdversarialPerturbationTransformer(_env, owners, _models[0].ClassNames, columns, settings, mapping, shape, _options.BatchSize,
            _options.CancellationToken);
    }

    /// <summary>The CNN members' common 1 × H × W shape, or null when a member is not a CNN or they differ.</summary>
    internal static ImageShape? CnnShape(IEnumerable<NeuralNetworkMulticlassModel> models) => CnnShape(models.Select(m => m.Architecture).ToArray());

    private static ImageShape? CnnShape(IReadOnlyList<NeuralNetworkArchitecture> architectures)
    {
        if (architectures.Any(a => a.Kind != NeuralNetworkArchitectureKind.Cnn))
            return null;
        var a0 = architectures[0];
        return architectures.All(a => a.ImageHeight == a0.ImageHeight && a.ImageWidth == a0.ImageWidth) ? new ImageShape(1, a0.ImageHeight, a0.ImageWidth) : null;
    }

    /// <summary>The image shape of the input column: the option, else its annotation, else the CNNs'; checked against the size and the CNNs.</summary>
    internal static ImageShape ResolveShape(DataViewSchema schema, string input, ImageShape? option, IReadOnlyList<NeuralNetworkArchitecture> architectures)
    {
        int size = ColumnRules.CheckVector(schema, "image", input, architectures[0].InputSize);
        var annotated = ImageShape.Of(schema[input]);
        var cnn = CnnShape(architectures);
        var shape = option ?? annotated ?? cnn ?? throw Guard.ExceptSchemaMismatch("image", input,
            "a Single vector with an ImageShape annotation (or set Options.ImageShape, or attack CNNs)", schema[input].Type + " without one");
        if (shape.Size != size)
            throw Guard.ExceptSchemaMismatch("image", input, $"{shape} images ({shape.Size} values)", $"{size} values");
        if (annotated is not null && annotated != shape)
            throw Guard.ExceptSchemaMismatch("image", input, $"{shape} images", $"images of {annotated}");
        if (cnn is not null && (shape.Channels != 1 || shape.Height != cnn.Height || shape.Width != cnn.Width))
            throw Guard.ExceptSchemaMismatch("image", input, $"{cnn} images (the CNNs' ImageHeight × ImageWidth, one channel)", $"images of {shape}");
        return shape;
    }

    /// <summary>Checks a target or label key column: a key over the K classes whose key values (if any) are the class names.</summary>
    internal static void CheckClassColumn(DataViewSchema schema, string name, IReadOnlyList<string> classes)
    {
        int count = ColumnRules.CheckKey(schema, "class", name);
        if (count != classes.Count)
            throw Guard.ExceptSchemaMismatch("class", name, $"key of the models' {classes.Count} classes", $"key of {count} values");
        var col = schema[name];
        if (col.Annotations.Schema.GetColumnOrNull(AnnotationNames.KeyValues) is { Type: VectorDataViewType { ItemType: TextDataViewType } })
        {
            var values = default(VBuffer<ReadOnlyMemory<char>>);
            col.GetKeyValues(ref values);
            var names = values.DenseValues().Select(v => v.ToString()).ToArray();
            if (!names.SequenceEqual(classes))
            {
                throw Guard.ExceptSchemaMismatch("class", name, $"key values [{string.Join(", ", classes)}] (the models' classes, in order)",
                    $"[{string.Join(", ", names)}]");
            }
        }
    }
}

/// <summary>The columns an <see cref="AdversarialPerturbationTransformer"/> reads and writes.</summary>
internal sealed record AdversarialColumns(string Input, string Output, string Perturbation, string? Class);
