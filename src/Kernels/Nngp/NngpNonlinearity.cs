using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Components.Kernels.Nngp;

/// <summary>The families of pointwise nonlinearity an <see cref="NngpArchitecture"/> can use.</summary>
public enum NngpNonlinearityKind
{
    /// <summary>φ(x) = a·x for x &lt; 0 and b·x for x ≥ 0 (ReLU = (0, 1), leaky ReLU = (α, 1), Abs = (−1, 1)); closed form.</summary>
    ABRelu,

    /// <summary>φ(x) = a·erf(b·x) + c; closed form.</summary>
    Erf,

    /// <summary>φ(x) = tanh(x); no closed form (numerical integration).</summary>
    Tanh,

    /// <summary>A user function; numerical integration only, and it cannot be saved with a model.</summary>
    Custom,
}

/// <summary>
/// A pointwise nonlinearity φ of a fully connected network, with what the kernel recursion needs: φ and φ′ on
/// tensors (for numerical integration and Monte Carlo) and, for ReLU-like and Erf nonlinearities, the closed-form
/// Gaussian expectations <c>E[φ(u)φ(v)]</c> and <c>E[φ′(u)φ′(v)]</c>.
/// </summary>
public sealed class NngpNonlinearity : IEquatable<NngpNonlinearity>
{
    private readonly Func<Tensor, Tensor>? _function;
    private readonly Func<Tensor, Tensor>? _derivative;

    private NngpNonlinearity(NngpNonlinearityKind kind, string name, double[] parameters, Func<Tensor, Tensor>? function = null, Func<Tensor, Tensor>? derivative = null)
    {
        Kind = kind;
        Name = name;
        Parameters = parameters;
        _function = function;
        _derivative = derivative;
    }

    /// <summary>The family.</summary>
    public NngpNonlinearityKind Kind { get; }

    /// <summary>Display name, e.g. <c>ReLU</c> or <c>Erf(1, 1, 0)</c>.</summary>
    public string Name { get; }

    /// <summary>The family's parameters: (a, b) for <see cref="NngpNonlinearityKind.ABRelu"/>, (a, b, c) for <see cref="NngpNonlinearityKind.Erf"/>, none otherwise.</summary>
    public IReadOnlyList<double> Parameters { get; }

    /// <summary>True when the NNGP and NTK layer maps have closed forms (ABReLU family and Erf).</summary>
    public bool HasClosedForm => Kind is NngpNonlinearityKind.ABRelu or NngpNonlinearityKind.Erf;

    /// <summary>True for positively homogeneous φ (ABReLU family): φ(λx) = λφ(x) for λ &gt; 0, which kernel rescaling needs.</summary>
    public bool IsPositivelyHomogeneous => Kind == NngpNonlinearityKind.ABRelu;

    /// <summary>True when the nonlinearity can be written to a model file (every kind but <see cref="NngpNonlinearityKind.Custom"/>).</summary>
    public bool CanSave => Kind != NngpNonlinearityKind.Custom;

    /// <summary>ReLU, φ(x) = max(x, 0).</summary>
    public static NngpNonlinearity Relu { get; } = new(NngpNonlinearityKind.ABRelu, "ReLU", [0.0, 1.0]);

    /// <summary>Absolute value, φ(x) = |x| (ABReLU with a = −1, b = 1).</summary>
    public static NngpNonlinearity Abs { get; } = new(NngpNonlinearityKind.ABRelu, "Abs", [-1.0, 1.0]);

    /// <summary>Hyperbolic tangent (the paper's other nonlinearity); integrated numerically.</summary>
    public static NngpNonlinearity Tanh { get; } = new(NngpNonlinearityKind.Tanh, "Tanh", []);

    /// <summary>Leaky ReLU, φ(x) = x for x ≥ 0 and <paramref name="negativeSlope"/>·x otherwise.</summary>
    /// <param name="negativeSlope">Slope for negative inputs; finite.</param>
    public static NngpNonlinearity LeakyRelu(double negativeSlope)
    {
        CheckFinite(negativeSlope, nameof(negativeSlope));
        return new(NngpNonlinearityKind.ABRelu, $"LeakyReLU({F(negativeSlope)})", [negativeSlope, 1.0]);
    }

    /// <summary>ABReLU, φ(x) = <paramref name="a"/>·x for x &lt; 0 and <paramref name="b"/>·x for x ≥ 0.</summary>
    /// <param name="a">Slope for negative inputs; finite.</param>
    /// <param name="b">Slope for non-negative inputs; finite.</param>
    public static NngpNonlinearity ABRelu(double a, double b)
    {
        CheckFinite(a, nameof(a));
        CheckFinite(b, nameof(b));
        string name = (a, b) switch
        {
            (0.0, 1.0) => "ReLU",
            (-1.0, 1.0) => "Abs",
            (_, 1.0) => $"LeakyReLU({F(a)})",
            _ => $"ABReLU({F(a)}, {F(b)})",
        };
        return new(NngpNonlinearityKind.ABRelu, name, [a, b]);
    }

    /// <summary>φ(x) = <paramref name="a"/>·erf(<paramref name="b"/>·x) + <paramref name="c"/>.</summary>
    /// <param name="a">Output scale; finite.</param>
    /// <param name="b">Input scale; finite.</param>
    /// <param name="c">Output shift; finite.</param>
    public static NngpNonlinearity Erf(double a = 1.0, double b = 1.0, double c = 0.0)
    {
        CheckFinite(a, nameof(a));
        CheckFinite(b, nameof(b));
        CheckFinite(c, nameof(c));
        return new(NngpNonlinearityKind.Erf, (a, b, c) == (1.0, 1.0, 0.0) ? "Erf" : $"Erf({F(a)}, {F(b)}, {F(c)})", [a, b, c]);
    }

    /// <summary>
    /// A user nonlinearity, integrated numerically (Gauss–Hermite or lookup grid) and usable by the Monte-Carlo
    /// estimator. Both functions must be elementwise and must not keep or dispose their argument. Without
    /// <paramref name="derivative"/>, φ′ comes from autograd. A custom nonlinearity cannot be saved with a model.
    /// </summary>
    /// <param name="name">Display name.</param>
    /// <param name="function">φ on a float64 tensor.</param>
    /// <param name="derivative">φ′ on a float64 tensor, or null for autograd.</param>
    public static NngpNonlinearity Custom(string name, Func<Tensor, Tensor> function, Func<Tensor, Tensor>? derivative = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(function);
        return new(NngpNonlinearityKind.Custom, name, [], function, derivative);
    }

    /// <summary>Rebuilds a saved nonlinearity from its kind and parameters.</summary>
    internal static NngpNonlinearity FromSaved(NngpNonlinearityKind kind, double[] p) => kind switch
    {
        NngpNonlinearityKind.ABRelu when p.Length == 2 => ABRelu(p[0], p[1]),
        NngpNonlinearityKind.Erf when p.Length == 3 => Erf(p[0], p[1], p[2]),
        NngpNonlinearityKind.Tanh when p.Length == 0 => Tanh,
        _ => throw new FormatException($"Corrupt model file: nonlinearity {kind} with {p.Length} parameters."),
    };

    /// <summary>φ applied elementwise (a new tensor).</summary>
    public Tensor Apply(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        switch (Kind)
        {
            case NngpNonlinearityKind.ABRelu:
                return torch.where(x.lt(0), x * Parameters[0], x * Parameters[1]);
            case NngpNonlinearityKind.Erf:
                return torch.erf(x * Parameters[1]) * Parameters[0] + Parameters[2];
            case NngpNonlinearityKind.Tanh:
                return torch.tanh(x);
            default:
                return _function!(x);
        }
    }

    /// <summary>φ′ applied elementwise (a new tensor); for a custom φ without a derivative, by autograd.</summary>
    public Tensor Derivative(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        switch (Kind)
        {
            case NngpNonlinearityKind.ABRelu:
                return torch.where(x.lt(0), torch.full_like(x, Parameters[0]), torch.full_like(x, Parameters[1]));
            case NngpNonlinearityKind.Erf:
                {
                    double a = Parameters[0], b = Parameters[1];
                    return torch.exp(x.square() * (-b * b)) * (a * b * 2.0 / Math.Sqrt(Math.PI));
                }
            case NngpNonlinearityKind.Tanh:
                return 1.0 - torch.tanh(x).square();
            default:
                if (_derivative is not null)
                    return _derivative(x);
                using (var scope = torch.NewDisposeScope())
                using (torch.enable_grad())
                {
                    var xi = x.detach().clone().requires_grad_(true);
                    var y = _function!(xi);
                    var grad = torch.autograd.grad([y.sum()], [xi])[0];
                    return grad.detach().clone().MoveToOuterDisposeScope();
                }
        }
    }

    /// <inheritdoc/>
    public bool Equals(NngpNonlinearity? other)
    {
        if (other is null)
            return false;
        if (ReferenceEquals(this, other))
            return true;
        if (Kind == NngpNonlinearityKind.Custom || other.Kind == NngpNonlinearityKind.Custom)
            return false;
        return Kind == other.Kind && Parameters.SequenceEqual(other.Parameters);
    }

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as NngpNonlinearity);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Kind, Parameters.Count > 0 ? Parameters[0] : 0, Parameters.Count > 1 ? Parameters[1] : 0);

    /// <inheritdoc/>
    public override string ToString() => Name;

    private static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static void CheckFinite(double v, string name)
    {
        if (!double.IsFinite(v))
            throw new ArgumentOutOfRangeException(name, v, "The nonlinearity parameter must be finite.");
    }
}
