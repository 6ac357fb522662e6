using System.Diagnostics;
using Components.Core.Differentiation;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Benchmarks.Core;

/// <summary>
/// Jacobian Frobenius norm of the softmax output of a 784-512-512-10 ReLU MLP (float32, CPU, one torch thread) for a
/// batch of 256 rows: <see cref="Jacobians.FrobeniusNorm"/> (exact; by default one forward pass and one backward pass
/// per output over the whole batch), the same with the batch replicated once per output (one pass over 2,560 rows),
/// Hutchinson with 10 probes, and a naive per-row loop of one backward pass per output. Rows/s from the median of repeated runs after a warm-up, all in one run.
/// </summary>
public static class JacobianNormBenchmark
{
    public static int Run(string[] args)
    {
        int reps = args.Length > 0 ? int.Parse(args[0]) : 5;
        int threads = args.Length > 1 ? int.Parse(args[1]) : 1;
        torch.set_num_threads(threads);
        const int n = 256, d = 784, k = 10;
        var g = new Generator(0);
        var w1 = torch.randn([512, d], generator: g).mul_(1 / Math.Sqrt(d));
        var w2 = torch.randn([512, 512], generator: g).mul_(1 / Math.Sqrt(512));
        var w3 = torch.randn([k, 512], generator: g).mul_(1 / Math.Sqrt(512));
        var b1 = torch.zeros(512);
        var b2 = torch.zeros(512);
        var b3 = torch.zeros(k);
        foreach (var p in new[] { w1, w2, w3, b1, b2, b3 })
            p.requires_grad_(true); // as a trained module's parameters
        Tensor F(Tensor x) => torch.nn.functional.softmax(
            torch.nn.functional.relu(torch.nn.functional.relu(x.matmul(w1.t()).add(b1)).matmul(w2.t()).add(b2)).matmul(w3.t()).add(b3), 1);
        using var x = torch.rand([n, d], generator: g);

        Tensor Naive(Tensor batch)
        {
            using var scope = torch.NewDisposeScope();
            var result = new float[n];
            for (int i = 0; i < n; i++)
            {
                var xi = batch.narrow(0, i, 1).detach().requires_grad_(true);
                var y = F(xi);
                double sq = 0;
                for (int o = 0; o < k; o++)
                {
                    var gi = torch.autograd.grad([y[0, o]], [xi], retain_graph: o < k - 1)[0];
                    sq += gi.square().sum().item<float>();
                }
                result[i] = (float)Math.Sqrt(sq);
            }
            return torch.tensor(result).MoveToOuterDisposeScope();
        }

        (double Median, Tensor Last) Time(Func<Tensor> run)
        {
            run().Dispose(); // warm-up
            var ms = new double[reps];
            Tensor last = null!;
            for (int r = 0; r < reps; r++)
            {
                last?.Dispose();
                var sw = Stopwatch.StartNew();
                last = run();
                ms[r] = sw.Elapsed.TotalMilliseconds;
            }
            Array.Sort(ms);
            return (ms[reps / 2], last);
        }

        string load = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";
        var batched = Time(() => Jacobians.FrobeniusNorm(F, x, new JacobianOptions { Method = JacobianNormMethod.Exact }));
        var replicated = Time(() => Jacobians.FrobeniusNorm(F, x, new JacobianOptions { Method = JacobianNormMethod.Exact, RowsPerPass = n * k }));
        var hutchinson = Time(() => Jacobians.FrobeniusNorm(F, x, new JacobianOptions { Method = JacobianNormMethod.Hutchinson, Probes = 10 }, new Generator(1)));
        var naive = Time(() => Naive(x));
        double maxRel = batched.Last.sub(naive.Last).abs().div(naive.Last).max().item<float>();
        string loadAfter = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";
        Console.WriteLine($"MLP 784-512-512-10 (ReLU, softmax output), batch {n}, float32, CPU, torch threads {threads}, median of {reps}; load average before {load}, after {loadAfter}");
        Console.WriteLine("| method | median ms / batch | rows/s |");
        Console.WriteLine("|---|---|---|");
        void Row(string name, double ms) => Console.WriteLine($"| {name} | {ms:F1} | {n / (ms / 1000):F0} |");
        Row("`Jacobians.FrobeniusNorm`, exact (default: one forward pass, one backward pass per output over the batch)", batched.Median);
        Row("exact, the batch replicated once per output (`RowsPerPass = 2560`: one forward and one backward pass over 2,560 rows)", replicated.Median);
        Row("Hutchinson, 10 probes (estimate)", hutchinson.Median);
        Row("naive: per row, one backward pass per output", naive.Median);
        Console.WriteLine($"speed-up of the batched path over the naive loop: {naive.Median / batched.Median:F1}x; max relative difference of the norms: {maxRel:E1}");
        return 0;
    }
}
