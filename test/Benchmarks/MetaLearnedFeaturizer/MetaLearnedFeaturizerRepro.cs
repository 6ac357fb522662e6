using System.Diagnostics;
using System.Globalization;
using Components.Core.Data;
using Components.Transforms.MetaLearnedFeaturizer;
using Components.Transforms.MetaLearnedFeaturizer.MetaTraining;
using Microsoft.ML;
using Microsoft.ML.Data;
using ScottPlot;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Benchmarks.MetaLearnedFeaturizer;

/// <summary>
/// <c>mlur-repro [--rule rule.bin] [--steps 25,250] [--seeds 2] [--draws 10] [--images dir]</c>: 10-shot linear-probe
/// accuracy on Fashion-MNIST (pooled to 14×14, as meta-training) and on Fashion-MNIST with permuted pixels, of the
/// features of: the base network trained without labels by the meta-learned rule, by the initial (un-meta-trained)
/// rule, the same network at random initialisation, an autoencoder of the same architecture trained by Adam (same
/// batches, same number of steps), ML.NET's ProjectToPrincipalComponents (same output size) and the raw pixels; and the
/// rule on widths and depths not seen in meta-training. Probe: ridge regression onto centred one-hot labels of 10
/// examples per class (features standardised on the unlabelled pool, λ chosen per method on a validation split),
/// accuracy on 5,000 test images; mean ± sd over network seeds × draws. Writes docs/images/mlur-fewshot.png.
/// </summary>
public static class MetaLearnedFeaturizerRepro
{
    private const int Shots = 10, PoolRows = 10_000, ValidationRows = 5_000, TestRows = 5_000, BatchSize = 64;
    private static readonly double[] Ridges = [1e-3, 1e-2, 1e-1, 1, 10, 100, 1000];

    private sealed record Setting(string Name, bool Permuted, int[] Widths, bool AllMethods);

    public static int Run(string[] args)
    {
        string? rulePath = null, images = null;
        int[] stepsList = [25, 250];
        int seeds = 2, draws = 10;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            string v = args[i + 1];
            switch (args[i])
            {
                case "--rule": rulePath = v; break;
                case "--steps": stepsList = [.. v.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))]; break;
                case "--seeds": seeds = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--draws": draws = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--images": images = v; break;
                default: Console.Error.WriteLine($"Unknown option '{args[i]}'."); return 2;
            }
        }
        images ??= Path.Combine(Svcca.SvccaReproduction.FindRepoRoot(), "docs", "images");
        Directory.CreateDirectory(images);
        torch.set_num_threads(1);
        var total = Stopwatch.StartNew();
        var ml = new MLContext(seed: 0);
        var fashion = FashionMnist.Load(ml);
        using var train = MetaTrainingData.FromDataView(fashion.Train, pool: 2);
        using var test = MetaTrainingData.FromDataView(fashion.Test, pool: 2);
        using var meta = rulePath is null ? LocalUpdateRuleFile.LoadShipped() : LocalUpdateRuleFile.Load(rulePath);
        using var initial = new LocalUpdateRule(new LocalUpdateRuleOptions { Seed = 1 });
        int d = train.Width;
        var permutation = Enumerable.Range(0, d).Select(i => (long)i).ToArray();
        var prand = new Random(12345);
        for (int i = d - 1; i > 0; i--) { int j = prand.Next(i + 1); (permutation[i], permutation[j]) = (permutation[j], permutation[i]); }

        Console.WriteLine($"# Meta-learned featurizer reproduction: Fashion-MNIST ({fashion.Source}) pooled to 14×14 ({d} pixels); rule {rulePath ?? "shipped"}; " +
            $"{Shots}-shot ridge probe, {seeds} network seeds × {draws} draws, test {TestRows} images, batch {BatchSize}, torch threads {torch.get_num_threads()}; load {Load()}");
        var settings = new List<Setting>
        {
            new("Fashion-MNIST, 196-64-32 (seen)", false, [d, 64, 32], true),
            new("permuted pixels, 196-64-32 (seen)", true, [d, 64, 32], true),
            new("width 256, 196-256-64 (unseen)", false, [d, 256, 64], false),
            new("depth 4, 196-128-128-128-32 (unseen)", false, [d, 128, 128, 128, 32], false),
        };
        var plotRows = new List<(string Setting, (string Method, double Mean, double Sd)[] Bars)>();
        Console.WriteLine();
        Console.WriteLine("| setting | inner steps | method | 10-shot accuracy, standardised, λ tuned (mean ± sd) | λ | accuracy, raw features, λ = 0.1 (the meta-objective's probe) |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var setting in settings)
        {
            var perm = setting.Permuted ? permutation : null;
            var x = Take(train.Images, 0, PoolRows + ValidationRows, perm);
            var y = train.Labels[TensorIndex.Slice(0, PoolRows + ValidationRows)];
            var xt = Take(test.Images, 0, TestRows, perm);
            var yt = test.Labels[TensorIndex.Slice(0, TestRows)];
            var task = (int seed) => new MetaTask([.. Enumerable.Range(0, 10)], perm, setting.Widths, BaseActivation.Relu, seed);
            var dist = new MetaTaskDistribution { BatchSize = BatchSize };
            var bars = new List<(string, double, double)>();
            foreach (int steps in stepsList)
            {
                var methods = new List<(string Name, Func<int, (Tensor Pool, Tensor Test)> Features)>
                {
                    ("meta-learned rule", s => RuleFeatures(meta, train, dist, task(s), steps, x, xt)),
                    ("random init", s => RuleFeatures(null, train, dist, task(s), 0, x, xt)),
                    ("autoencoder (Adam)", s => AutoencoderFeatures(train, task(s), steps, x, xt)),
                };
                if (setting.AllMethods)
                    methods.Insert(1, ("initial rule", s => RuleFeatures(initial, train, dist, task(s), steps, x, xt)));
                foreach (var (name, features) in methods)
                {
                    if (name == "random init" && steps != stepsList[0]) continue;
                    var (acc, ridge, fixedAcc) = Probe(seeds, draws, features, y, yt);
                    Console.WriteLine($"| {setting.Name} | {(name == "random init" ? 0 : steps)} | {name} | {Mean(acc):F3} ± {Sd(acc):F3} | {ridge} | {Mean(fixedAcc):F3} ± {Sd(fixedAcc):F3} |");
                    if (name != "initial rule" || steps == stepsList[0])
                        bars.Add((name == "random init" ? name : $"{name}, {steps} steps", Mean(acc), Sd(acc)));
                }
                if (setting.AllMethods && steps == stepsList[0])
                {
                    foreach (var (name, features) in new (string, Func<int, (Tensor, Tensor)>)[]
                    {
                        ($"PCA (ML.NET, rank {setting.Widths[^1]})", _ => PcaFeatures(ml, x, xt, setting.Widths[^1])),
                        ("raw pixels", _ => (x.clone(), xt.clone())),
                    })
                    {
                        var (acc, ridge, fixedAcc) = Probe(1, draws * seeds, features, y, yt);
                        Console.WriteLine($"| {setting.Name} | – | {name} | {Mean(acc):F3} ± {Sd(acc):F3} | {ridge} | {Mean(fixedAcc):F3} ± {Sd(fixedAcc):F3} |");
                        bars.Add((name, Mean(acc), Sd(acc)));
                    }
                }
            }
            plotRows.Add((setting.Name, [.. bars]));
            Console.Error.WriteLine($"[{total.Elapsed.TotalSeconds:F0} s] {setting.Name} done (load {Load()})");
        }
        string png = Path.Combine(images, "mlur-fewshot.png");
        Plot(plotRows, png);
        Console.WriteLine();
        Console.WriteLine($"Total {total.Elapsed.TotalSeconds:F0} s (load {Load()}); plot → {png}");
        return 0;
    }

    private static Tensor Take(Tensor images, long from, long count, long[]? perm)
    {
        var x = images[TensorIndex.Slice(from, from + count)];
        return (perm is null ? x : x.index_select(1, tensor(perm))).contiguous();
    }

    /// <summary>Embedding of the pool and the test rows after <paramref name="steps"/> unsupervised steps with <paramref name="rule"/> (none: random init).</summary>
    private static (Tensor, Tensor) RuleFeatures(LocalUpdateRule? rule, MetaTrainingData train, MetaTaskDistribution dist, MetaTask task, int steps, Tensor x, Tensor xt)
    {
        var random = new Random(task.NetworkSeed + 777);
        var net = BaseNetworkState.Create(task.Widths, task.NetworkSeed, task.Activation);
        using var trained = rule is null ? net : RuleMetaObjective.Advance(rule, net, train, dist, task, random, steps, default);
        using var _ = no_grad();
        return (trained.Embed(x).MoveToOuterDisposeScope(), trained.Embed(xt).MoveToOuterDisposeScope());
    }

    /// <summary>The same architecture as an encoder (batch-normalised, ReLU), a linear decoder, trained by Adam (lr 1e-3) on squared reconstruction error with the same batches.</summary>
    private static (Tensor, Tensor) AutoencoderFeatures(MetaTrainingData train, MetaTask task, int steps, Tensor x, Tensor xt)
    {
        using var init = BaseNetworkState.Create(task.Widths, task.NetworkSeed, task.Activation);
        var ws = init.W.Select(w => w.clone().requires_grad_(true)).ToArray();
        var bs = init.Bias.Select(b => b.clone().requires_grad_(true)).ToArray();
        int k = task.Widths[^1], d = task.Widths[0];
        var gen = Components.Core.Randomness.RandomStreams.CreateGenerator(task.NetworkSeed, "mlur-repro.decoder");
        var dec = (randn([k, d], generator: gen) / Math.Sqrt(k)).requires_grad_(true);
        var decB = zeros(d).requires_grad_(true);
        var parameters = ws.Concat(bs).Append(dec).Append(decB).Select(t => new TorchSharp.Modules.Parameter(t)).ToArray();
        var opt = torch.optim.Adam(parameters, lr: 1e-3);
        var random = new Random(task.NetworkSeed + 777);
        Tensor Encode(Tensor input)
        {
            var h = input;
            for (int l = 0; l < ws.Length; l++)
                h = nn.functional.relu(BaseNetworkState.BatchNorm(h.matmul(parameters[l]) + parameters[ws.Length + l]));
            return h;
        }
        for (int t = 0; t < steps; t++)
        {
            using var scope = NewDisposeScope();
            var batch = MetaTaskDistribution.Rows(train, task, MetaTaskDistribution.UnlabelledRows(random, train, task, BatchSize));
            opt.zero_grad();
            var recon = Encode(batch).matmul(parameters[^2]) + parameters[^1];
            var loss = (recon - batch).pow(2).mean();
            loss.backward();
            opt.step();
        }
        using var _ = no_grad();
        var result = (Encode(x).MoveToOuterDisposeScope(), Encode(xt).MoveToOuterDisposeScope());
        foreach (var p in parameters) p.Dispose();
        return result;
    }

    private sealed class Row
    {
        [VectorType(196)] public float[] Features = [];
    }

    private static (Tensor, Tensor) PcaFeatures(MLContext ml, Tensor x, Tensor xt, int rank)
    {
        IDataView View(Tensor t)
        {
            var all = t.contiguous().data<float>().ToArray();
            int n = (int)t.shape[0], w = (int)t.shape[1];
            return ml.Data.LoadFromEnumerable(Enumerable.Range(0, n).Select(i => new Row { Features = all[(i * w)..((i + 1) * w)] }).ToArray());
        }
        var model = ml.Transforms.ProjectToPrincipalComponents("Pca", "Features", rank: rank, seed: 0).Fit(View(x[TensorIndex.Slice(0, PoolRows)]));
        Tensor Project(Tensor t)
        {
            var col = model.Transform(View(t)).GetColumn<VBuffer<float>>("Pca").Select(v => v.DenseValues().ToArray()).ToArray();
            return tensor(col.SelectMany(r => r).ToArray()).reshape(col.Length, rank);
        }
        return (Project(x), Project(xt));
    }

    /// <summary>Accuracies over seeds × draws and the λ chosen on validation draws (support from the pool's first part, scored on its validation part).</summary>
    private static (double[] Accuracies, double Ridge, double[] FixedRidgeRaw) Probe(int seeds, int draws, Func<int, (Tensor Pool, Tensor Test)> features, Tensor y, Tensor yt)
    {
        var acc = new List<double>();
        var fixedAcc = new List<double>();
        var validation = Ridges.ToDictionary(r => r, _ => new List<double>());
        var perSeed = new List<(Tensor F, Tensor Ft)>();
        for (int s = 0; s < seeds; s++)
        {
            var (f, ft) = features(s + 1);
            var (rawF, rawFt) = (f.to(ScalarType.Float64), ft.to(ScalarType.Float64));
            for (int dr = 0; dr < draws; dr++)
                fixedAcc.Add(Accuracy(rawF, y, Support(y, 100 * s + dr), rawFt, yt, RidgeMetaObjective.DefaultRidge));
            var mean = f[TensorIndex.Slice(0, PoolRows)].mean([0], keepdim: true);
            var sd = f[TensorIndex.Slice(0, PoolRows)].std([0], keepdim: true) + 1e-6;
            f = ((f - mean) / sd).to(ScalarType.Float64); ft = ((ft - mean) / sd).to(ScalarType.Float64);
            perSeed.Add((f, ft));
            for (int v = 0; v < 5; v++)
            {
                var rows = Support(y, 10_000 + 100 * s + v);
                foreach (var r in Ridges)
                    validation[r].Add(Accuracy(f, y, rows, f[TensorIndex.Slice(PoolRows, PoolRows + ValidationRows)], y[TensorIndex.Slice(PoolRows, PoolRows + ValidationRows)], r));
            }
        }
        double ridge = validation.OrderByDescending(kv => kv.Value.Average()).First().Key;
        for (int s = 0; s < seeds; s++)
            for (int dr = 0; dr < draws; dr++)
                acc.Add(Accuracy(perSeed[s].F, y, Support(y, 100 * s + dr), perSeed[s].Ft, yt, ridge));
        return ([.. acc], ridge, [.. fixedAcc]);
    }

    private static long[] Support(Tensor y, int seed)
    {
        var labels = y[TensorIndex.Slice(0, PoolRows)].data<long>().ToArray();
        var random = new Random(seed);
        var rows = new List<long>();
        for (int c = 0; c < 10; c++)
        {
            var pool = Enumerable.Range(0, labels.Length).Where(i => labels[i] == c).ToArray();
            var chosen = new HashSet<int>();
            while (chosen.Count < Shots) chosen.Add(pool[random.Next(pool.Length)]);
            rows.AddRange(chosen.Select(i => (long)i));
        }
        return [.. rows];
    }

    private static double Accuracy(Tensor f, Tensor y, long[] rows, Tensor ft, Tensor yt, double ridge)
    {
        using var scope = NewDisposeScope();
        var idx = tensor(rows);
        var beta = RidgeMetaObjective.Solve(f.index_select(0, idx), RidgeMetaObjective.Targets(y.index_select(0, idx), 10), ridge);
        var pred = cat([ft, ones(ft.shape[0], 1, dtype: ft.dtype)], 1).matmul(beta).argmax(1);
        return pred.eq(yt).to(ScalarType.Float64).mean().ToDouble();
    }

    private static void Plot(List<(string Setting, (string Method, double Mean, double Sd)[] Bars)> rows, string path)
    {
        var plt = new Plot();
        var methods = rows.SelectMany(r => r.Bars.Select(b => b.Method)).Distinct().ToList();
        var palette = new ScottPlot.Palettes.Category10();
        int gap = methods.Count + 1;
        for (int m = 0; m < methods.Count; m++)
        {
            var bars = new List<Bar>();
            for (int s = 0; s < rows.Count; s++)
                foreach (var b in rows[s].Bars.Where(b => b.Method == methods[m]))
                    bars.Add(new Bar { Position = s * gap + m, Value = b.Mean, Error = b.Sd, FillColor = palette.GetColor(m) });
            plt.Add.Bars(bars);
            plt.Legend.ManualItems.Add(new LegendItem { LabelText = methods[m], FillColor = palette.GetColor(m) });
        }
        plt.Axes.Bottom.SetTicks([.. Enumerable.Range(0, rows.Count).Select(s => s * gap + (methods.Count - 1) / 2.0)], [.. rows.Select(r => r.Setting.Replace(", ", "\n"))]);
        plt.Axes.SetLimitsY(0, 1.0);
        plt.YLabel("10-shot ridge-probe accuracy (10 classes)");
        plt.Title("Meta-learned update rule: 10-shot probe of unsupervised features (Fashion-MNIST 14×14; ± sd)");
        plt.ShowLegend(Alignment.UpperRight);
        plt.SavePng(path, 1200, 600);
    }

    private static double Mean(double[] v) => v.Average();
    private static double Sd(double[] v) { double m = v.Average(); return Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / Math.Max(1, v.Length - 1)); }
    private static string Load() => File.ReadAllText("/proc/loadavg").Trim();
}
