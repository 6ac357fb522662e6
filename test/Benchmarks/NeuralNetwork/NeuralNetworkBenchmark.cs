using System.Diagnostics;
using System.Globalization;
using Components.Core.Data;
using Components.Core.Tensors;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Benchmarks.NeuralNetwork;

/// <summary>
/// Training throughput of the NeuralNetwork trainer on Fashion-MNIST (CPU): rows per second per epoch, timed between
/// the trainer's per-epoch log messages (so data loading and module construction are excluded), for the MLP and the
/// CNN at 1 and 2 torch threads. Also times one convolution training step with the trainer's im2col convolution and
/// with libtorch's conv2d, and counts the NaN gradients conv2d produced (see ImageConvolution).
/// </summary>
/// <remarks>
/// Arguments: <c>--mlp-rows N</c> (default 60000), <c>--cnn-rows N</c> (default 6000), <c>--epochs N</c> (default 3;
/// the first epoch is reported separately as warm-up), <c>--threads 1,2</c>, <c>--training false</c> (only the
/// convolution step), <c>--mlp false</c> (only the CNN, with both convolution implementations).
/// </remarks>
public static class NeuralNetworkBenchmark
{
    public static int Run(string[] args)
    {
        int mlpRows = 60000, cnnRows = 6000, epochs = 3;
        bool training = true, mlp = true;
        int[] threads = [1, 2];
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--mlp-rows": mlpRows = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--cnn-rows": cnnRows = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--epochs": epochs = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--threads": threads = args[i + 1].Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray(); break;
                case "--training": training = bool.Parse(args[i + 1]); break;
                case "--mlp": mlp = bool.Parse(args[i + 1]); break;
                default: Console.Error.WriteLine($"Unknown option {args[i]}"); return 2;
            }
        }

        var ml = new MLContext(seed: 1);
        var full = FashionMnist.Load(ml, trainRows: Math.Max(mlpRows, cnnRows));
        Console.WriteLine($"Fashion-MNIST from {full.Source}; {Environment.ProcessorCount} logical CPUs; TorchSharp {typeof(torch).Assembly.GetName().Version}.");
        Console.WriteLine();
        Console.WriteLine("| model | rows | batch | threads | load avg | first epoch | later epochs (median) | rows/s (median of later epochs) |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (int t in training ? threads : [])
        {
            torch.set_num_threads(t);
            if (mlp)
            {
                Measure(ml, full.Train, "MLP 784-128-10, Adam", mlpRows, epochs, t, new NeuralNetworkMulticlassTrainer.Options { HiddenLayerWidths = [128], BatchSize = 64 });
                Measure(ml, full.Train, "MLP 784-128-10, Adam", mlpRows, epochs, t, new NeuralNetworkMulticlassTrainer.Options { HiddenLayerWidths = [128], BatchSize = 256 });
            }
            // The CNN with the convolution before (unfold + matmul) and now (libtorch conv2d), in the same run.
            foreach (bool unfold in new[] { true, false })
            {
                ImageConvolution.UseUnfold = unfold;
                Measure(ml, full.Train, $"CNN conv16-conv32-128-10, Adam, {(unfold ? "unfold + matmul (before)" : "conv2d (now)")}", cnnRows, epochs, t, new NeuralNetworkMulticlassTrainer.Options
                {
                    Architecture = NeuralNetworkArchitectureKind.Cnn,
                    ConvolutionChannels = [16, 32],
                    HiddenLayerWidths = [128],
                    BatchSize = 64,
                });
            }
            ImageConvolution.UseUnfold = false;
        }

        Console.WriteLine();
        ConvolutionStep(full.Train, threads);
        return 0;
    }

    private static void Measure(MLContext ml, IDataView train, string name, int rows, int epochs, int threads, NeuralNetworkMulticlassTrainer.Options options)
    {
        options.NumberOfEpochs = epochs;
        options.Seed = 1;
        var data = ml.Data.TakeRows(train, rows);
        rows = (int)Math.Min(rows, ml.Data.CreateEnumerable<RowCount>(data, reuseRowObject: true).LongCount()); // the embedded subset has 2,000
        var stamps = new List<double>();
        var clock = new Stopwatch();
        void OnLog(object? sender, LoggingEventArgs e)
        {
            if (e.Kind != ChannelMessageKind.Info || !e.Source.StartsWith("NeuralNetwork", StringComparison.Ordinal))
                return;
            if (e.RawMessage.StartsWith("Training ", StringComparison.Ordinal))
                clock.Restart();
            else if (e.RawMessage.StartsWith("Epoch ", StringComparison.Ordinal))
                stamps.Add(clock.Elapsed.TotalSeconds);
        }
        string load = LoadAverage();
        ml.Log += OnLog;
        try
        {
            using var model = ml.MulticlassClassification.Trainers.NeuralNetwork(options).Fit(data);
        }
        finally
        {
            ml.Log -= OnLog;
        }
        var perEpoch = stamps.Select((s, i) => i == 0 ? s : s - stamps[i - 1]).ToArray();
        var later = perEpoch.Skip(1).OrderBy(v => v).ToArray();
        double median = later.Length == 0 ? perEpoch[0] : later[later.Length / 2];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {rows:N0} | {options.BatchSize} | {threads} | {load} | {perEpoch[0]:F2} s | {median:F2} s | **{rows / median:N0}** |"));
    }

    /// <summary>
    /// One training step (forward + backward) of two conv + ReLU + max-pool blocks on a 64-image batch, with the
    /// trainer's <see cref="ImageConvolution"/> and with libtorch's conv2d (same weights); counts the steps in which the
    /// gradient reaching the first block's output (the second convolution's input gradient) contains a NaN.
    /// </summary>
    private static void ConvolutionStep(IDataView train, int[] threads)
    {
        using var all = DataLoading.LoadFeatures(train, "Features");
        const int steps = 40, batch = 64;
        Console.WriteLine($"Convolution training step, batch {batch}, two blocks of 5×5 convolution (padding 2) + ReLU + 2×2 max-pool, {steps} steps after 3 warm-up steps:");
        Console.WriteLine();
        Console.WriteLine("| implementation | channels | threads | load avg | ms per step (median) | steps with a NaN input gradient in block 2 |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (int t in threads)
        foreach (int[] channels in new[] { new[] { 16, 32 }, new[] { 4, 8 } })
        {
            torch.set_num_threads(t);
            foreach (var im2col in new[] { true, false })
            {
                using var generator = new Generator(1);
                using var conv1 = new ImageConvolution(1, channels[0], 5);
                using var conv2 = new ImageConvolution(channels[0], channels[1], 5);
                using (no_grad())
                {
                    foreach (var p in conv1.parameters().Concat(conv2.parameters()))
                        p.copy_(randn(p.shape, generator: generator).mul_(0.1));
                }
                var w = conv1.parameters().Concat(conv2.parameters()).ToArray(); // weight1, bias1, weight2, bias2
                var times = new List<double>();
                int nan = 0;
                string load = LoadAverage();
                for (int s = 0; s < steps + 3; s++)
                {
                    using var scope = NewDisposeScope();
                    var xb = all.narrow(0, (s * batch) % (all.shape[0] - batch), batch).reshape(batch, 1, 28, 28);
                    var watch = Stopwatch.StartNew();
                    Tensor c1, h;
                    if (im2col)
                    {
                        c1 = nn.functional.max_pool2d(nn.functional.relu(conv1.ForwardUnfold(xb)), 2);
                        c1.retain_grad();
                        h = nn.functional.max_pool2d(nn.functional.relu(conv2.ForwardUnfold(c1)), 2);
                    }
                    else
                    {
                        c1 = nn.functional.max_pool2d(nn.functional.relu(nn.functional.conv2d(xb, w[0], w[1], padding: [2, 2])), 2);
                        c1.retain_grad();
                        h = nn.functional.max_pool2d(nn.functional.relu(nn.functional.conv2d(c1, w[2], w[3], padding: [2, 2])), 2);
                    }
                    conv1.zero_grad();
                    conv2.zero_grad();
                    h.sum().backward();
                    watch.Stop();
                    bool bad = c1.grad is { } g && g.isnan().any().item<bool>();
                    if (s >= 3)
                    {
                        times.Add(watch.Elapsed.TotalMilliseconds);
                        nan += bad ? 1 : 0;
                    }
                }
                times.Sort();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {(im2col ? "ImageConvolution (unfold + matmul)" : "libtorch conv2d")} | 1→{channels[0]}→{channels[1]} | {t} | {load} | {times[times.Count / 2]:F1} | {nan} / {steps} |"));
            }
        }
    }

    private sealed class RowCount
    {
    }

    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "?";
        }
    }
}
