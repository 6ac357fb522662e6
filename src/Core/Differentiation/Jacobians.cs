using TorchSharp;
using static TorchSharp.torch;

namespace Components.Core.Differentiation;

/// <summary>
/// Input–output derivatives of a batched function <c>f: [n, ...] → [n, k]</c> (typically a module, or a module
/// followed by a softmax). Rows are examples: <c>f</c> must map each row independently (a module in eval mode:
/// no batch normalisation statistics, no dropout), so that the derivative of output row i depends on input row i only.
/// Every method runs with gradients enabled, also when called under <c>torch.no_grad()</c> (inside a transformer's
/// <c>MapBatch</c>), never changes the input, leaves parameters' <c>.grad</c> untouched, and returns tensors detached
/// from the graph and moved to the caller's dispose scope.
/// </summary>
/// <remarks>
/// The input may have any rank (an image batch [n, c, h, w] works); gradients have the input's shape. The output must
/// be [n] or [n, k]; an [n] output is treated as [n, 1]. All methods work in the input's dtype: use float64 for
/// finite-difference checks.
/// </remarks>
public static class Jacobians
{
    /// <summary>
    /// Batched input gradient: row i is ∂(Σ_j w_ij f(x)_ij)/∂x_i, i.e. the vector–Jacobian product with the weights
    /// <paramref name="outputWeights"/> ([n, k]; all ones when null, which gives the gradient of the row sum; for a
    /// scalar loss per row pass an [n] output and no weights).
    /// </summary>
    public static Tensor InputGradient(Func<Tensor, Tensor> f, Tensor x, Tensor? outputWeights = null)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(x);
        using var scope = torch.NewDisposeScope();
        using var grad = torch.enable_grad();
        var xg = x.detach().requires_grad_(true);
        var y = Outputs(f, xg);
        var w = outputWeights is null ? torch.ones_like(y) : CheckShape(outputWeights, y, nameof(outputWeights));
        return Grad(y, xg, w).detach().MoveToOuterDisposeScope();
    }

    /// <summary>Vector–Jacobian product per row: vᵢᵀ Jᵢ for <paramref name="v"/> of shape [n, k]; result has the input's shape.</summary>
    public static Tensor VectorJacobianProduct(Func<Tensor, Tensor> f, Tensor x, Tensor v)
    {
        ArgumentNullException.ThrowIfNull(v);
        return InputGradient(f, x, v);
    }

    /// <summary>
    /// Jacobian–vector product per row: Jᵢ uᵢ for <paramref name="u"/> of the input's shape; result [n, k]. Computed
    /// with the double-backward trick (the vector–Jacobian product is linear in its vector, so differentiating it
    /// with respect to that vector in the direction u gives J u): two backward passes, no forward-mode autodiff.
    /// </summary>
    public static Tensor JacobianVectorProduct(Func<Tensor, Tensor> f, Tensor x, Tensor u)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(u);
        if (!u.shape.SequenceEqual(x.shape))
            throw new ArgumentException($"The direction has shape [{string.Join(", ", u.shape)}]; expected the input's shape [{string.Join(", ", x.shape)}].", nameof(u));
        using var scope = torch.NewDisposeScope();
        using var grad = torch.enable_grad();
        var xg = x.detach().requires_grad_(true);
        var y = Outputs(f, xg);
        var v = torch.zeros_like(y).requires_grad_(true);
        var vjp = Grad(y, xg, v, createGraph: true);
        // A function whose outputs do not depend on the input (a constant network) has no path from v to the VJP.
        var jvp = vjp.requires_grad ? Grad(vjp, v, u.to(vjp.dtype).to(vjp.device)) : torch.zeros_like(y);
        return jvp.detach().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The full Jacobian per row, [n, k, input dims...], exact: one backward pass per block of outputs, each over the
    /// batch replicated once per output in the block (see <see cref="JacobianOptions.RowsPerPass"/>).
    /// </summary>
    public static Tensor Jacobian(Func<Tensor, Tensor> f, Tensor x, JacobianOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(x);
        options ??= new JacobianOptions();
        options.Validate();
        using var scope = torch.NewDisposeScope();
        long n = x.shape[0];
        int k = OutputCount(f, x);
        var all = torch.empty([k, .. x.shape], dtype: x.dtype, device: x.device); // [k, n, ...]
        ForEachJacobianBlock(f, x, k, options.RowsPerPass, (first, block) => all.narrow(0, first, block.shape[0]).copy_(block));
        return all.transpose(0, 1).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The Frobenius norm ‖Jᵢ‖_F of each row's input–output Jacobian, [n]. Exact (blocks of outputs, batched) when the
    /// output has at most <see cref="JacobianOptions.ExactOutputLimit"/> columns or <see cref="JacobianOptions.Method"/>
    /// says so; otherwise the Hutchinson estimator with <see cref="JacobianOptions.Probes"/> Rademacher probes drawn
    /// from <paramref name="generator"/> (required then).
    /// </summary>
    public static Tensor FrobeniusNorm(Func<Tensor, Tensor> f, Tensor x, JacobianOptions? options = null, Generator? generator = null)
    {
        using var scope = torch.NewDisposeScope();
        return FrobeniusNormSquared(f, x, options, generator).clamp_min(0).sqrt().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// ‖Jᵢ‖_F² per row, [n]; see <see cref="FrobeniusNorm"/>. The Hutchinson estimate is unbiased for this squared
    /// norm: E[‖vᵀJ‖²] = tr(J Jᵀ) for probes v with E[v vᵀ] = I.
    /// </summary>
    public static Tensor FrobeniusNormSquared(Func<Tensor, Tensor> f, Tensor x, JacobianOptions? options = null, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(x);
        options ??= new JacobianOptions();
        options.Validate();
        using var scope = torch.NewDisposeScope();
        long n = x.shape[0];
        int k = OutputCount(f, x);
        bool exact = options.Method switch
        {
            JacobianNormMethod.Exact => true,
            JacobianNormMethod.Hutchinson => false,
            _ => k <= options.ExactOutputLimit,
        };
        Tensor total;
        if (exact)
        {
            total = torch.zeros(n, dtype: x.dtype, device: x.device);
            var sum = total;
            ForEachJacobianBlock(f, x, k, options.RowsPerPass, (_, block) => sum.add_(block.reshape(block.shape[0], n, -1).square().sum([0, 2])));
        }
        else
        {
            if (generator is null)
                throw new ArgumentNullException(nameof(generator), "The Hutchinson estimator needs a generator (the component's own, seeded).");
            total = Hutchinson(f, x, k, options.Probes, options.RowsPerPass, generator);
        }
        return total.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Hutchinson: the mean over probes of ‖vᵀJᵢ‖² with Rademacher v. One forward pass (over the batch replicated
    /// <see cref="Replication"/> times), then one backward pass per block of probes, the graph retained in between.
    /// </summary>
    private static Tensor Hutchinson(Func<Tensor, Tensor> f, Tensor x, int k, int probes, int rowsPerPass, Generator generator)
    {
        long n = x.shape[0];
        var total = torch.zeros(n, dtype: x.dtype, device: x.device);
        using var scope = torch.NewDisposeScope();
        using var grad = torch.enable_grad();
        int c = Replication(probes, n, rowsPerPass);
        var xr = Replicate(x, c).requires_grad_(true);
        var y = Outputs(f, xr);
        var blocks = OutputBlocks(probes, c).ToList();
        for (int b = 0; b < blocks.Count; b++)
        {
            using var step = torch.NewDisposeScope();
            int count = blocks[b].Count;
            // Drawn on the CPU from the caller's generator, then moved: the same probes on every device. Replicas
            // beyond the block's probes (last block) get zero weight.
            var v = torch.zeros([c * n, k], dtype: x.dtype, device: x.device);
            var draws = torch.randint(0, 2, [count * n, k], dtype: ScalarType.Int64, generator: generator).mul(2).sub(1).to(x.dtype).to(x.device);
            v.narrow(0, 0, count * n).copy_(draws);
            var g = Grad(y, xr, v, retainGraph: b < blocks.Count - 1);
            total.add_(g.narrow(0, 0, count * n).reshape(count, n, -1).square().sum([0, 2]));
        }
        return total.div_(probes).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Calls <paramref name="onBlock"/> with consecutive blocks of Jacobian rows, [count, n, input dims...] (outputs
    /// first..first+count-1 for every example). One forward pass over the batch replicated c times
    /// (<see cref="Replication"/>), then one backward pass per block of c outputs whose weights are one-hot rows (copy
    /// j weights output first + j), the graph retained in between. With c = 1 this is the loop over outputs: one
    /// forward, k backward passes, the fewest operations; replication pays for small batches, where one pass over
    /// c·n rows beats c passes over n rows.
    /// </summary>
    private static void ForEachJacobianBlock(Func<Tensor, Tensor> f, Tensor x, int k, int rowsPerPass, Action<int, Tensor> onBlock)
    {
        using var scope = torch.NewDisposeScope();
        using var grad = torch.enable_grad();
        long n = x.shape[0];
        var inputShape = x.shape.Skip(1).ToArray();
        int c = Replication(k, n, rowsPerPass);
        var xr = Replicate(x, c).requires_grad_(true);
        var y = Outputs(f, xr); // [c*n, k]
        var eye = torch.eye(k, dtype: y.dtype, device: y.device);
        var blocks = OutputBlocks(k, c).ToList();
        for (int b = 0; b < blocks.Count; b++)
        {
            using var step = torch.NewDisposeScope();
            var (first, count) = blocks[b];
            var weights = torch.zeros([c, k], dtype: y.dtype, device: y.device);
            weights.narrow(0, 0, count).copy_(eye.narrow(0, first, count));
            var w = weights.unsqueeze(1).expand(c, n, k).reshape(c * n, k);
            var g = Grad(y, xr, w, retainGraph: b < blocks.Count - 1);
            onBlock(first, g.reshape([c, n, .. inputShape]).narrow(0, 0, count).detach());
        }
    }

    /// <summary>The batch stacked <paramref name="count"/> times along the rows: [count * n, input dims...], detached.</summary>
    private static Tensor Replicate(Tensor x, int count)
    {
        long n = x.shape[0];
        var inputShape = x.shape.Skip(1).ToArray();
        return x.detach().unsqueeze(0).expand([count, .. x.shape]).reshape([count * n, .. inputShape]).contiguous();
    }

    /// <summary>∂(Σ w·y)/∂x; zeros when y does not depend on x (a constant function).</summary>
    private static Tensor Grad(Tensor y, Tensor x, Tensor w, bool createGraph = false, bool retainGraph = false)
    {
        if (!y.requires_grad)
            return torch.zeros_like(x);
        var g = torch.autograd.grad([y], [x], [w], retain_graph: retainGraph || createGraph, create_graph: createGraph, allow_unused: true)[0];
        return g.IsInvalid ? torch.zeros_like(x) : g;
    }

    /// <summary>How many times the batch is replicated: rowsPerPass / n, between 1 and k.</summary>
    internal static int Replication(int k, long n, int rowsPerPass) => (int)Math.Clamp(rowsPerPass / Math.Max(1, n), 1, k);

    /// <summary>Consecutive blocks of at most <paramref name="per"/> of k items.</summary>
    internal static IEnumerable<(int First, int Count)> OutputBlocks(int k, int per)
    {
        for (int first = 0; first < k; first += per)
            yield return (first, Math.Min(per, k - first));
    }

    private static int OutputCount(Func<Tensor, Tensor> f, Tensor x)
    {
        if (x.dim() < 1 || x.shape[0] == 0)
            throw new ArgumentException("The input must be a non-empty batch [n, ...].", nameof(x));
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var y = Outputs(f, x.narrow(0, 0, 1));
        return checked((int)y.shape[1]);
    }

    private static Tensor Outputs(Func<Tensor, Tensor> f, Tensor x)
    {
        var y = f(x);
        if (y is null)
            throw new InvalidOperationException("The function returned no tensor.");
        if (y.dim() == 1)
            y = y.unsqueeze(1);
        if (y.dim() != 2 || y.shape[0] != x.shape[0])
            throw new InvalidOperationException($"The function must return [n] or [n, k] for an input of {x.shape[0]} rows; it returned [{string.Join(", ", y.shape)}].");
        if (!y.is_floating_point())
            throw new InvalidOperationException($"The function returned {y.dtype}; derivatives need a floating-point output.");
        return y;
    }

    private static Tensor CheckShape(Tensor w, Tensor y, string name)
    {
        var ws = w.dim() == 1 ? w.unsqueeze(1) : w;
        if (!ws.shape.SequenceEqual(y.shape))
            throw new ArgumentException($"'{name}' has shape [{string.Join(", ", w.shape)}]; expected the output's shape [{string.Join(", ", y.shape)}].", name);
        return ws.to(y.dtype).to(y.device);
    }
}
