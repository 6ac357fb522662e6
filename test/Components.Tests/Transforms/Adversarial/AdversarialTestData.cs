using Components.Core.Schema;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Tests.Transforms.Adversarial;

/// <summary>
/// Small 1×12×12 images of three classes (a horizontal bar, a vertical bar, a diagonal, each at a random position, over
/// uniform noise), and small networks trained on them once per test class (xunit fixture).
/// </summary>
public sealed class AdversarialTestData : IDisposable
{
    public const int Side = 12;
    public static readonly string[] Classes = ["horizontal", "vertical", "diagonal"];

    public sealed class Row
    {
        [VectorType(Side * Side)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";

        public string TargetName { get; set; } = "";
    }

    public AdversarialTestData()
    {
        Ml = new MLContext(seed: 0);
        Train = Images(Ml, 360, seed: 1);
        Test = Images(Ml, 48, seed: 2);
        CnnA = TrainCnn(1, null);
        CnnB = TrainCnn(2, null);
        RetinaCnn = TrainCnn(3, new RetinaSettings(sigmaSlope: 0.15));
        Mlp = Ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
        {
            HiddenLayerWidths = [16], NumberOfEpochs = 12, LearningRate = 0.01, Seed = 4,
        }).Fit(Train);
    }

    public MLContext Ml { get; }

    /// <summary>Features (1×12×12, annotated), Label (key of <see cref="Classes"/>), Target (key: the next class).</summary>
    public IDataView Train { get; }

    public IDataView Test { get; }

    public NeuralNetworkMulticlassModel CnnA { get; }

    public NeuralNetworkMulticlassModel CnnB { get; }

    public NeuralNetworkMulticlassModel RetinaCnn { get; }

    public NeuralNetworkMulticlassModel Mlp { get; }

    private NeuralNetworkMulticlassModel TrainCnn(int seed, RetinaSettings? retina) =>
        Ml.MulticlassClassification.Trainers.NeuralNetwork(new NeuralNetworkMulticlassTrainer.Options
        {
            Architecture = NeuralNetworkArchitectureKind.Cnn,
            ConvolutionChannels = [4],
            HiddenLayerWidths = [],
            ImageHeight = Side,
            ImageWidth = Side,
            NumberOfEpochs = 12,
            LearningRate = 0.01,
            Retina = retina,
            Seed = seed,
        }).Fit(Train);

    public static Row[] Rows(int n, int seed)
    {
        var rng = new Random(seed);
        var rows = new Row[n];
        for (int i = 0; i < n; i++)
        {
            int cls = i % 3;
            var px = new float[Side * Side];
            for (int j = 0; j < px.Length; j++)
                px[j] = (float)(rng.NextDouble() * 0.3);
            int at = 2 + rng.Next(Side - 4);
            for (int t = 1; t < Side - 1; t++)
            {
                int y = cls == 0 ? at : t, x = cls == 1 ? at : t;
                px[(y * Side) + x] = 0.7f + (float)(rng.NextDouble() * 0.3);
            }
            rows[i] = new Row { Features = px, Label = Classes[cls], TargetName = Classes[(cls + 1) % 3] };
        }
        return rows;
    }

    public static IDataView Images(MLContext ml, int n, int seed, bool annotate = true)
    {
        var data = ml.Data.LoadFromEnumerable(Rows(n, seed));
        var keys = ml.Data.LoadFromEnumerable(Classes.Select(c => new { Label = c }));
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label", keyData: keys)
            .Append(ml.Transforms.Conversion.MapValueToKey("Target", "TargetName", keyData: ml.Data.LoadFromEnumerable(Classes.Select(c => new { TargetName = c }))))
            .Fit(data).Transform(data);
        return annotate ? ImageShape.Annotate(keyed, "Features", new ImageShape(1, Side, Side)) : keyed;
    }

    public void Dispose()
    {
        CnnA.Dispose();
        CnnB.Dispose();
        RetinaCnn.Dispose();
        Mlp.Dispose();
    }
}
