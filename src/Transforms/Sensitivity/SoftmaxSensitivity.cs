using Components.Core.Differentiation;
using static TorchSharp.torch;

namespace Components.Transforms.Sensitivity;

/// <summary>
/// Input sensitivity of a classifier (Novak et al., ICLR 2018): the Frobenius norm of the Jacobian of the softmax output
/// σ(f(x)) (or of the logits f(x)) with respect to the input, per row, exact and batched (one backward pass per block of
/// classes, see <see cref="Jacobians.FrobeniusNorm"/>). Works for any TorchSharp function mapping rows independently
/// (a module in eval mode), in the input's dtype.
/// </summary>
public static class SoftmaxSensitivity
{
    /// <summary>‖∂σ(f(x))/∂x‖_F per row, [n], for logits <paramref name="logits"/>: [n, ...] → [n, k].</summary>
    /// <exception cref="ArgumentException">The input contains NaN or infinite values.</exception>
    public static Tensor SoftmaxJacobianNorm(Func<Tensor, Tensor> logits, Tensor x, int rowsPerPass = JacobianOptions.Defaults.RowsPerPass)
    {
        ArgumentNullException.ThrowIfNull(logits);
        CheckFinite(x);
        return Jacobians.FrobeniusNorm(t => nn.functional.softmax(logits(t), 1), x, Exact(rowsPerPass));
    }

    /// <summary>‖∂f(x)/∂x‖_F per row, [n], of the logits themselves.</summary>
    /// <exception cref="ArgumentException">The input contains NaN or infinite values.</exception>
    public static Tensor LogitJacobianNorm(Func<Tensor, Tensor> logits, Tensor x, int rowsPerPass = JacobianOptions.Defaults.RowsPerPass)
    {
        ArgumentNullException.ThrowIfNull(logits);
        CheckFinite(x);
        return Jacobians.FrobeniusNorm(logits, x, Exact(rowsPerPass));
    }

    private static JacobianOptions Exact(int rowsPerPass) => new() { Method = JacobianNormMethod.Exact, RowsPerPass = rowsPerPass };

    private static void CheckFinite(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.dim() < 2)
            throw new ArgumentException($"Expected a batch of rows [n, ...], got shape [{string.Join(", ", x.shape)}].", nameof(x));
        if (!x.isfinite().all().item<bool>())
            throw new ArgumentException("The input contains NaN or infinite values.", nameof(x));
    }
}
