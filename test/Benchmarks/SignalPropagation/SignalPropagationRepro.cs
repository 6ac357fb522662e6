using System.Diagnostics;
using System.Globalization;
using Components.Kernels.Nngp;
using Components.Kernels.SignalPropagation;
using TorchSharp;

namespace Components.Benchmarks.SignalPropagation;

/// <summary>
/// Reproduction of the signal-propagation picture (Schoenholz, Pennington &amp; Sohl-Dickstein, arXiv:1710.06570, and the
/// mean-field papers it builds on): phase diagrams, depth scales against simulated wide networks, and the Gaussian
/// theory of the cross-layer covariance against simulation, with its 1/N scaling. Writes PNGs to docs/images.
/// <c>sigprop-repro [--quick] [--only phase,depth,covariance,width] [--out docs/images]</c>.
/// </summary>
internal static class SignalPropagationRepro
{
    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        int outAt = Array.IndexOf(args, "--out");
        string folder = outAt >= 0 && outAt + 1 < args.Length ? args[outAt + 1] : Path.Combine("docs", "images");
        Directory.CreateDirectory(folder);
        torch.set_num_threads(1);
        var total = Stopwatch.StartNew();
        Console.WriteLine($"sigprop-repro {(quick ? "--quick" : "(full)")}, load average {Load()}");
        int onlyAt = Array.IndexOf(args, "--only");
        var only = onlyAt >= 0 && onlyAt + 1 < args.Length ? args[onlyAt + 1].Split(',') : ["phase", "depth", "covariance", "width"];
        if (only.Contains("phase"))
            PhaseDiagrams(folder, quick);
        if (only.Contains("depth"))
            DepthScales(folder, quick);
        if (only.Contains("covariance"))
            CrossLayerCovariance(folder, quick);
        if (only.Contains("width"))
            WidthScaling(folder, quick);
        Console.WriteLine($"Total {total.Elapsed.TotalSeconds:F0} s, load average {Load()}");
        return 0;
    }

    private static void PhaseDiagrams(string folder, bool quick)
    {
        int nw = quick ? 16 : 32, nb = quick ? 6 : 11;
        var sw = Enumerable.Range(0, nw).Select(i => 0.25 + 3.75 * i / (nw - 1)).ToArray();
        var sb = Enumerable.Range(0, nb).Select(j => 0.01 + 0.49 * j / (nb - 1)).ToArray();
        Console.WriteLine();
        Console.WriteLine("## Phase diagrams (critical σ_w² at some σ_b²)");
        Console.WriteLine();
        Console.WriteLine("| φ | " + string.Join(" | ", sb.Where((_, j) => j % 2 == 0).Select(b => $"σ_b² = {b:F3}")) + " |");
        Console.WriteLine("|---|" + string.Concat(Enumerable.Repeat("---|", (nb + 1) / 2)));
        foreach (var phi in new[] { NngpNonlinearity.Tanh, NngpNonlinearity.Erf() })
        {
            var clock = Stopwatch.StartNew();
            var d = MeanField.ComputePhaseDiagram(phi, sw, sb);
            SignalPropagationPlots.PhaseDiagram(d, Path.Combine(folder, $"signal-propagation-phase-{phi.Name.ToLowerInvariant()}.png"));
            Console.WriteLine($"| {phi} | " + string.Join(" | ", d.CriticalWeightVariance.Where((_, j) => j % 2 == 0).Select(v => v.ToString("F4", Ci))) +
                $" |  ({nw}×{nb} grid in {clock.Elapsed.TotalSeconds:F1} s)");
        }
    }

    private static void DepthScales(string folder, bool quick)
    {
        var phi = NngpNonlinearity.Tanh;
        const double sb = 0.05;
        double crit = MeanField.CriticalWeightVariance(phi, sb);
        var sws = new[] { 0.5, 0.8, 1.1, 1.4, 2.4, 3.0, 4.0, 6.0 };
        int samples = quick ? 100 : 300, width = 1000, depth = 40;
        Console.WriteLine();
        Console.WriteLine($"## Depth scales, tanh, σ_b² = {sb}, critical σ_w² = {crit:F4}; simulation width {width}, {samples} networks, depth {depth}");
        Console.WriteLine();
        Console.WriteLine("| σ_w² | phase | q* | c* | ξ_q theory | ξ_q fit (map) | ξ_q fit (simulation) | ξ_c theory | ξ_c fit (map) | ξ_c fit (simulation) |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        var dense = Enumerable.Range(0, 60).Select(i => 0.4 + 5.8 * i / 59.0).Where(s => Math.Abs(s - crit) > 0.02).ToArray();
        var xiCTheory = dense.Select(s => MeanField.Analyze(phi, s, sb).CorrelationDepthScale).ToArray();
        var xiQTheory = dense.Select(s => MeanField.Analyze(phi, s, sb).VarianceDepthScale).ToArray();
        var simC = new List<(double Sw, double Xi)>();
        var simQ = new List<(double Sw, double Xi)>();
        foreach (double sw in sws)
        {
            var fp = MeanField.Analyze(phi, sw, sb);
            double cStart = fp.Correlation >= 1 ? 0.8 : Math.Min(0.999, fp.Correlation + 0.2);
            double qStart = 3 * fp.Variance;
            var simCorr = Simulate(phi, width, depth, sw, sb, samples, fp.Variance, cStart, seed: 1);
            var simVar = Simulate(phi, width, depth, sw, sb, samples, qStart, 0.5, seed: 2);
            var (_, _, mapC) = MeanField.Trajectory(phi, sw, sb, fp.Variance, fp.Variance, cStart, depth);
            var (mapQ, _, _) = MeanField.Trajectory(phi, sw, sb, qStart, qStart, 0.5, depth);
            double Fit(double[] y, double target, double floor)
            {
                var pts = Enumerable.Range(1, depth).Select(l => (L: (double)l, D: Math.Abs(y[l] - target)))
                    .Where(p => p.D > floor && p.D < 0.3 * Math.Abs(y[0] - target) + floor).ToArray();
                if (pts.Length < 3)
                    return double.NaN;
                double mx = pts.Average(p => p.L), my = pts.Average(p => Math.Log(p.D));
                double slope = pts.Sum(p => (p.L - mx) * (Math.Log(p.D) - my)) / pts.Sum(p => (p.L - mx) * (p.L - mx));
                return -1 / slope;
            }
            // The simulation decays to its own finite-width limit (c* and q* shifted by O(1/N)): only distances from the
            // mean-field limit above three times that shift (and above 4 standard errors) enter the fit.
            static double Plateau(double[] y) => y.Skip(y.Length - 8).Average();
            double cFloor = Math.Max(5.0 / width, Math.Max(3 * Math.Abs(Plateau(simCorr.CorrelationMean) - fp.Correlation), 4 * simCorr.CorrelationStdError.Max()));
            double qFloor = Math.Max(0.02 * fp.Variance, Math.Max(3 * Math.Abs(Plateau(simVar.VarianceMean) - fp.Variance), 4 * simVar.VarianceStdError.Max()));
            double xcMap = Fit(mapC, fp.Correlation, 5.0 / width), xcSim = Fit(simCorr.CorrelationMean, fp.Correlation, cFloor);
            double xqMap = Fit(mapQ, fp.Variance, 0.02 * fp.Variance), xqSim = Fit(simVar.VarianceMean, fp.Variance, qFloor);
            simC.Add((sw, xcSim));
            simQ.Add((sw, xqSim));
            Console.WriteLine(string.Create(Ci,
                $"| {sw:G3} | {fp.Phase} | {fp.Variance:F4} | {fp.Correlation:F4} | {fp.VarianceDepthScale:F2} | {xqMap:F2} | {xqSim:F2} | {fp.CorrelationDepthScale:F2} | {xcMap:F2} | {xcSim:F2} |"));
        }
        SignalPropagationPlots.TheoryVersusSimulation(Path.Combine(folder, "signal-propagation-depth-scales.png"),
            $"tanh, σ_b² = {sb}: depth scales, mean-field theory vs simulated width-{width} networks", "σ_w²", "depth scale (layers)",
            [("ξ_c", dense, xiCTheory, simC.Select(p => p.Sw).ToArray(), simC.Select(p => p.Xi).ToArray(), new double[simC.Count]),
             ("ξ_q", dense, xiQTheory, simQ.Select(p => p.Sw).ToArray(), simQ.Select(p => p.Xi).ToArray(), new double[simQ.Count])], logY: true);
    }

    private static void CrossLayerCovariance(string folder, bool quick)
    {
        int width = 500, depth = 40, samples = quick ? 3000 : 8000;
        Console.WriteLine();
        Console.WriteLine($"## Cross-layer covariance N·Cov(‖z^l‖²/N, ‖z^m‖²/N) at the fixed point, width {width}, {samples} networks, depth {depth}");
        Console.WriteLine();
        Console.WriteLine("| network | q* | a = χ_q | ξ_q | max |z| over entries | mean |z| | N·C(0) theory / sim | N·C(1) theory / sim | N·C(5) theory / sim | DFT diagonal fraction, theory / sim (layers 8–39) |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        var lagSeries = new List<(string, double[], double[], double[], double[], double[])>();
        var spectrumSeries = new List<(string, double[], double[], double[], double[], double[])>();
        foreach (var (name, phi, sw, sb) in new[] { ("linear", NngpNonlinearity.ABRelu(1, 1), 0.6, 0.4), ("ReLU", NngpNonlinearity.Relu, 1.5, 0.5) })
        {
            double q = MeanField.FixedPoint(phi, sw, sb);
            var sim = Simulate(phi, width, depth, sw, sb, samples, q, 0.5, seed: 5);
            var theory = LatticeGaussianTheory.NormCovariance(phi, sw, sb, q, depth);
            var (cov, err) = sim.NormCovariance();
            double maxZ = 0, sumZ = 0;
            int count = 0;
            for (int l = 0; l <= depth; l++)
                for (int m = l; m <= depth; m++)
                {
                    double z = Math.Abs(width * cov[l, m] - theory.Covariance[l, m]) / (width * err[l, m]);
                    maxZ = Math.Max(maxZ, z);
                    sumZ += z;
                    count++;
                }
            int mid = depth / 2;
            var lags = Enumerable.Range(-10, 21).ToArray();
            lagSeries.Add((name, lags.Select(k => (double)k).ToArray(), lags.Select(k => theory.Covariance[mid, mid + k]).ToArray(),
                lags.Select(k => (double)k).ToArray(), lags.Select(k => width * cov[mid, mid + k]).ToArray(), lags.Select(k => width * err[mid, mid + k]).ToArray()));
            const int start = 8, block = 32;
            var (reT, _, fracT) = LatticeGaussianTheory.DepthFourier(theory.Covariance, start, block);
            var scaled = new double[depth + 1, depth + 1];
            for (int l = 0; l <= depth; l++)
                for (int m = 0; m <= depth; m++)
                    scaled[l, m] = width * cov[l, m];
            var (reS, _, fracS) = LatticeGaussianTheory.DepthFourier(scaled, start, block);
            var omegas = Enumerable.Range(0, block / 2 + 1).Select(j => 2 * Math.PI * j / block).ToArray();
            var fine = Enumerable.Range(0, 101).Select(i => Math.PI * i / 100).ToArray();
            spectrumSeries.Add(($"{name} S(ω)", fine, fine.Select(w => LatticeGaussianTheory.Spectrum(phi, sw, sb, w)).ToArray(), [], [], []));
            spectrumSeries.Add(($"{name} DFT diagonal", omegas, omegas.Select((_, j) => reT[j, j]).ToArray(), omegas, omegas.Select((_, j) => reS[j, j]).ToArray(), new double[omegas.Length]));
            double a = theory.Coupling[depth];
            Console.WriteLine(string.Create(Ci,
                $"| {name} σ_w² = {sw}, σ_b² = {sb} | {q:F3} | {a:F3} | {-1 / Math.Log(a):F2} | {maxZ:F2} | {sumZ / count:F2} | {theory.Covariance[mid, mid]:F3} / {width * cov[mid, mid]:F3} ± {width * err[mid, mid]:F3} | {theory.Covariance[mid, mid + 1]:F3} / {width * cov[mid, mid + 1]:F3} ± {width * err[mid, mid + 1]:F3} | {theory.Covariance[mid, mid + 5]:F3} / {width * cov[mid, mid + 5]:F3} ± {width * err[mid, mid + 5]:F3} | {fracT:F3} / {fracS:F3} |"));
        }
        SignalPropagationPlots.TheoryVersusSimulation(Path.Combine(folder, "signal-propagation-cross-layer-covariance.png"),
            $"N·Cov(Q^{depth / 2}, Q^{depth / 2}+k), Q = ‖z‖²/N: Gaussian theory vs width-{width} simulation (±2 SE)", "lag k (layers)", "N·covariance", lagSeries);
        SignalPropagationPlots.TheoryVersusSimulation(Path.Combine(folder, "signal-propagation-spectrum.png"),
            "Fourier transform over depth (layers 8–39): diagonal vs the predicted spectrum S(ω)", "ω (radians per layer)", "N·S(ω)", spectrumSeries);
    }

    private static void WidthScaling(string folder, bool quick)
    {
        int depth = 16, samples = quick ? 4000 : 10000;
        var widths = new[] { 4, 8, 16, 32, 64, 128, 256, 512 };
        Console.WriteLine();
        Console.WriteLine($"## Width scaling: relative Frobenius deviation ‖N·Cov_sim − theory‖/‖theory‖ (depth {depth}, {samples}·max(1, 64/N) networks, at the fixed point)");
        Console.WriteLine();
        Console.WriteLine("Each cell: deviation (Monte-Carlo noise of the same norm; systematic part √(deviation² − noise²)).");
        Console.WriteLine();
        Console.WriteLine("| network | " + string.Join(" | ", widths.Select(w => $"N = {w}")) + " |");
        Console.WriteLine("|---|" + string.Concat(Enumerable.Repeat("---|", widths.Length)));
        var series = new List<(string, double[], double[], double[], double[], double[])>();
        foreach (var (name, phi, sw, sb) in new[] { ("linear", NngpNonlinearity.ABRelu(1, 1), 0.6, 0.4), ("ReLU", NngpNonlinearity.Relu, 1.5, 0.5) })
        {
            double q = MeanField.FixedPoint(phi, sw, sb);
            var theory = LatticeGaussianTheory.NormCovariance(phi, sw, sb, q, depth).Covariance;
            double norm = Math.Sqrt(theory.Cast<double>().Sum(v => v * v));
            var dev = new double[widths.Length];
            var noise = new double[widths.Length];
            for (int i = 0; i < widths.Length; i++)
            {
                int n = widths[i];
                var (cov, err) = Simulate(phi, n, depth, sw, sb, samples * Math.Max(1, 64 / n), q, 0.5, seed: 100 + n).NormCovariance();
                double d = 0, e = 0;
                for (int l = 0; l <= depth; l++)
                    for (int m = 0; m <= depth; m++)
                    {
                        d += Math.Pow(n * cov[l, m] - theory[l, m], 2);
                        e += Math.Pow(n * err[l, m], 2);
                    }
                dev[i] = Math.Sqrt(d) / norm;
                noise[i] = Math.Sqrt(e) / norm;
            }
            var bias = dev.Select((v, i) => Math.Sqrt(Math.Max(0, v * v - noise[i] * noise[i]))).ToArray();
            Console.WriteLine($"| {name} | " + string.Join(" | ", dev.Select((v, i) => string.Create(Ci, $"{v:F3} ({noise[i]:F3}; {bias[i]:F3})"))) + " |");
            var xs = widths.Select(w => (double)w).ToArray();
            double c = bias[2] * widths[2];
            series.Add(($"{name} deviation", xs, xs.Select(w => c / w).ToArray(), xs, dev, new double[xs.Length]));
            series.Add(($"{name} noise", xs, noise, [], [], []));
        }
        SignalPropagationPlots.TheoryVersusSimulation(Path.Combine(folder, "signal-propagation-width-scaling.png"),
            "Deviation of N·Cov from the Gaussian theory vs width (lines: c/N through the systematic part at N = 16, and the noise)", "width N", "relative deviation", series, logX: true, logY: true);
    }

    internal static RandomNetworkSimulation Simulate(NngpNonlinearity phi, int width, int depth, double sw, double sb, int samples, double q0, double c0, int seed)
        => new RandomNetworkSimulator(new RandomNetworkSimulator.Options
        {
            Nonlinearity = phi,
            Width = width,
            Depth = depth,
            WeightVariance = sw,
            BiasVariance = sb,
            Samples = samples,
            InputVariance = q0,
            InputCorrelation = c0,
            Seed = seed,
        }).Run();

    internal static string Load() => File.ReadAllText("/proc/loadavg").Trim();
}
