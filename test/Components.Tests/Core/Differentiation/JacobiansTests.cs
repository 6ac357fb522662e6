using Components.Core.Differentiation;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Tests.Core.Differentiation;

public sealed class JacobiansTests
{
    /// <summary>A small tanh MLP in float64 with its own seeded weights: d → h → k.</summary>
    private sealed class Mlp
    {
        public readonly Tensor W1, B1, W2, B2;

        public Mlp(int d, int h, int k, long seed)
        {
            var g = new Generator((ulong)seed);
            W1 = torch.randn([h, d], dtype: ScalarType.Float64, generator: g).requires_grad_(true);
            B1 = torch.randn([h], dtype: ScalarType.Float64, generator: g).requires_grad_(true);
            W2 = torch.randn([k, h], dtype: ScalarType.Float64, generator: g).requires_grad_(true);
            B2 = torch.randn([k], dtype: ScalarType.Float64, generator: g).requires_grad_(true);
        }

        public Tensor Forward(Tensor x) => torch.nn.functional.softmax(torch.tanh(x.flatten(1).matmul(W1.t()).add(B1)).matmul(W2.t()).add(B2), 1);
    }

    private static Tensor Inputs(long n, long d, long seed)
        => torch.randn([n, d], dtype: ScalarType.Float64, generator: new Generator((ulong)seed));

    /// <summary>Central finite differences of f at row i of x: [k, d].</summary>
    private static double[,] FiniteDifferenceJacobian(Func<Tensor, Tensor> f, Tensor x, int row)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var xi = x.narrow(0, row, 1).flatten(1);
        int d = (int)xi.shape[1];
        int k = (int)f(xi.reshape(x.narrow(0, row, 1).shape)).shape[1];
        var jac = new double[k, d];
        const double h = 1e-6;
        for (int j = 0; j < d; j++)
        {
            var plus = xi.clone();
            plus[0, j] = plus[0, j].add(h);
            var minus = xi.clone();
            minus[0, j] = minus[0, j].sub(h);
            var diff = f(plus.reshape(x.narrow(0, row, 1).shape)).sub(f(minus.reshape(x.narrow(0, row, 1).shape))).div(2 * h);
            var values = diff.data<double>().ToArray();
            for (int o = 0; o < k; o++)
                jac[o, j] = values[o];
        }
        return jac;
    }

    private static void AssertClose(double expected, double actual, double rtol = 1e-5, double atol = 1e-9)
        => Assert.True(Math.Abs(expected - actual) <= atol + rtol * Math.Abs(expected), $"expected {expected}, got {actual}");

    [Fact]
    public void JacobianAndProductsMatchFiniteDifferencesInFloat64()
    {
        var mlp = new Mlp(5, 7, 3, seed: 1);
        using var x = Inputs(4, 5, seed: 2);
        using var jac = Jacobians.Jacobian(mlp.Forward, x); // [n, k, d]
        Assert.Equal(new long[] { 4, 3, 5 }, jac.shape);
        var u = Inputs(4, 5, seed: 3);
        var v = Inputs(4, 3, seed: 4);
        using var jvp = Jacobians.JacobianVectorProduct(mlp.Forward, x, u);
        using var vjp = Jacobians.VectorJacobianProduct(mlp.Forward, x, v);
        using var norm = Jacobians.FrobeniusNorm(mlp.Forward, x, new JacobianOptions { Method = JacobianNormMethod.Exact });
        for (int i = 0; i < 4; i++)
        {
            var fd = FiniteDifferenceJacobian(mlp.Forward, x, i);
            double sq = 0;
            for (int o = 0; o < 3; o++)
            {
                double ju = 0;
                for (int j = 0; j < 5; j++)
                {
                    AssertClose(fd[o, j], jac[i, o, j].item<double>());
                    ju += fd[o, j] * u[i, j].item<double>();
                    sq += fd[o, j] * fd[o, j];
                }
                AssertClose(ju, jvp[i, o].item<double>());
            }
            for (int j = 0; j < 5; j++)
            {
                double vj = 0;
                for (int o = 0; o < 3; o++)
                    vj += v[i, o].item<double>() * fd[o, j];
                AssertClose(vj, vjp[i, j].item<double>());
            }
            AssertClose(Math.Sqrt(sq), norm[i].item<double>());
        }
        // The helpers use their own graph: the parameters' gradients stay unset.
        Assert.True(mlp.W1.grad is null || mlp.W1.grad.IsInvalid);
    }

    [Fact]
    public void LinearSoftmaxJacobianIsTheClosedForm()
    {
        // p = softmax(W x + b)  ⇒  J = (diag(p) − p pᵀ) W.
        var g = new Generator(5);
        var w = torch.randn([4, 6], dtype: ScalarType.Float64, generator: g);
        var b = torch.randn([4], dtype: ScalarType.Float64, generator: g);
        Tensor F(Tensor x) => torch.nn.functional.softmax(x.matmul(w.t()).add(b), 1);
        using var x = Inputs(3, 6, seed: 6);
        using var jac = Jacobians.Jacobian(F, x);
        using var norms = Jacobians.FrobeniusNorm(F, x);
        using var noGrad = torch.no_grad();
        for (int i = 0; i < 3; i++)
        {
            var p = F(x.narrow(0, i, 1))[0];
            var expected = torch.diag(p).sub(torch.outer(p, p)).matmul(w);
            Assert.True(torch.allclose(expected, jac[i], rtol: 1e-12, atol: 1e-14));
            AssertClose(expected.square().sum().sqrt().item<double>(), norms[i].item<double>(), rtol: 1e-12);
        }
    }

    [Fact]
    public void BatchedRowsEqualThePerRowPath()
    {
        var mlp = new Mlp(8, 9, 6, seed: 7);
        using var x = Inputs(10, 8, seed: 8);
        // The batch replicated once per output (one backward pass), 4 times (blocks of 4 and 2 outputs), and not at
        // all (one backward pass per output): the same numbers as one row at a time.
        using var batched = Jacobians.FrobeniusNorm(mlp.Forward, x, new JacobianOptions { Method = JacobianNormMethod.Exact });
        using var blocks = Jacobians.FrobeniusNorm(mlp.Forward, x, new JacobianOptions { Method = JacobianNormMethod.Exact, RowsPerPass = 40 });
        using var perOutput = Jacobians.FrobeniusNorm(mlp.Forward, x, new JacobianOptions { Method = JacobianNormMethod.Exact, RowsPerPass = 1 });
        using var grad = Jacobians.InputGradient(mlp.Forward, x, Inputs(10, 6, seed: 9));
        for (int i = 0; i < 10; i++)
        {
            using var row = x.narrow(0, i, 1);
            using var single = Jacobians.FrobeniusNorm(mlp.Forward, row, new JacobianOptions { Method = JacobianNormMethod.Exact });
            AssertClose(single[0].item<double>(), batched[i].item<double>(), rtol: 1e-12);
            AssertClose(single[0].item<double>(), perOutput[i].item<double>(), rtol: 1e-12);
            AssertClose(single[0].item<double>(), blocks[i].item<double>(), rtol: 1e-12);
            using var rowGrad = Jacobians.InputGradient(mlp.Forward, row, Inputs(10, 6, seed: 9).narrow(0, i, 1));
            Assert.True(torch.allclose(rowGrad[0], grad[i], rtol: 1e-12, atol: 1e-15));
        }
        Assert.Equal(6, Jacobians.Replication(6, 10, 256));
        Assert.Equal(4, Jacobians.Replication(6, 10, 40));
        Assert.Equal(1, Jacobians.Replication(6, 10, 1));
        Assert.Equal([(0, 4), (4, 2)], Jacobians.OutputBlocks(6, 4).ToArray());
    }

    [Fact]
    public void HutchinsonAgreesWithTheExactNormWithinItsStandardError()
    {
        var mlp = new Mlp(6, 10, 12, seed: 11);
        using var x = Inputs(3, 6, seed: 12);
        const int probes = 3000;
        var options = new JacobianOptions { Method = JacobianNormMethod.Hutchinson, Probes = probes };
        using var estimate = Jacobians.FrobeniusNormSquared(mlp.Forward, x, options, new Generator(13));
        using var again = Jacobians.FrobeniusNormSquared(mlp.Forward, x, options, new Generator(13));
        Assert.True(torch.allclose(estimate, again, rtol: 0, atol: 0)); // deterministic for a seed
        using var jac = Jacobians.Jacobian(mlp.Forward, x); // [n, k, d]
        for (int i = 0; i < 3; i++)
        {
            // vᵀ A v with A = J Jᵀ and Rademacher v: mean tr A, variance 2 Σ_{a≠b} A_ab².
            using var a = jac[i].matmul(jac[i].t());
            double trace = a.trace().item<double>();
            double offDiagonal = a.square().sum().item<double>() - a.diag().square().sum().item<double>();
            double se = Math.Sqrt(2 * offDiagonal / probes);
            double est = estimate[i].item<double>();
            Assert.True(Math.Abs(est - trace) <= 5 * se, $"row {i}: estimate {est}, exact {trace}, standard error {se}");
            Assert.True(se < 0.1 * trace); // the check has power: the bound is tight relative to the value
        }
        // Auto switches to Hutchinson above the limit and then needs a generator.
        Assert.Throws<ArgumentNullException>(() => Jacobians.FrobeniusNorm(mlp.Forward, x, new JacobianOptions { ExactOutputLimit = 4 }));
    }

    [Fact]
    public void WorksUnderNoGradOnImageBatchesAndConstantFunctions()
    {
        var g = new Generator(21);
        var kernel = torch.randn([2, 1, 3, 3], dtype: ScalarType.Float64, generator: g);
        Tensor Conv(Tensor x) => torch.nn.functional.conv2d(x, kernel).flatten(1).tanh().sum(1, keepdim: true).repeat(1, 2);
        using var images = torch.randn([3, 1, 5, 5], dtype: ScalarType.Float64, generator: g);
        using var noGrad = torch.no_grad(); // as inside a transformer's MapBatch
        using var jac = Jacobians.Jacobian(Conv, images);
        Assert.Equal(new long[] { 3, 2, 1, 5, 5 }, jac.shape);
        var fd = FiniteDifferenceJacobian(Conv, images, 1);
        using var flat = jac[1].reshape(2, 25);
        for (int j = 0; j < 25; j++)
            AssertClose(fd[0, j], flat[0, j].item<double>());
        using var zero = Jacobians.FrobeniusNorm(x => torch.ones(x.shape[0], 3, dtype: ScalarType.Float64), images);
        Assert.All(zero.data<double>().ToArray(), z => Assert.Equal(0.0, z));
        using var zeroJvp = Jacobians.JacobianVectorProduct(x => torch.ones(x.shape[0], 3, dtype: ScalarType.Float64), images, images);
        Assert.Equal(0.0, zeroJvp.abs().sum().item<double>());
    }

    [Fact]
    public void BadArgumentsFailClearly()
    {
        var mlp = new Mlp(3, 4, 2, seed: 31);
        using var x = Inputs(2, 3, seed: 32);
        Assert.Throws<ArgumentException>(() => Jacobians.JacobianVectorProduct(mlp.Forward, x, torch.zeros(2, 4, dtype: ScalarType.Float64)));
        Assert.Throws<ArgumentException>(() => Jacobians.VectorJacobianProduct(mlp.Forward, x, torch.zeros(2, 3, dtype: ScalarType.Float64)));
        var e = Assert.Throws<InvalidOperationException>(() => Jacobians.FrobeniusNorm(t => t.unsqueeze(2), x));
        Assert.Contains("[n] or [n, k]", e.Message);
        Assert.Throws<ArgumentException>(() => Jacobians.FrobeniusNorm(mlp.Forward, torch.zeros(0, 3, dtype: ScalarType.Float64)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Jacobians.FrobeniusNorm(mlp.Forward, x, new JacobianOptions { Probes = 0 }));
    }
}
