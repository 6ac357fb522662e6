using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Components.Tests.Core.Training;

/// <summary>
/// Plain SGD written by hand as a direct <see cref="torch.optim.Optimizer"/> subclass (no native handle, no
/// OptimizerHelper): θ ← θ − η·g. It calls the closure once, as torch's SGD does, and remembers the gradients it stepped on.
/// </summary>
internal sealed class TrainingEngineHandWrittenSgd : torch.optim.Optimizer
{
    private readonly Parameter[] _parameters;
    private readonly double _learningRate;

    public TrainingEngineHandWrittenSgd(IEnumerable<Parameter> parameters, double learningRate) : base(IntPtr.Zero)
    {
        _parameters = [.. parameters];
        _learningRate = learningRate;
    }

    /// <summary>Calls of <see cref="step"/>.</summary>
    public int Steps { get; private set; }

    /// <summary>Copies (float64, CPU) of the gradients of the last step.</summary>
    public List<double[]> LastGradients { get; } = [];

    public override Tensor step(Func<Tensor>? closure = null)
    {
        Tensor? loss = null;
        if (closure is not null)
        {
            using (torch.enable_grad())
                loss = closure();
        }
        using (torch.no_grad())
        using (var scope = torch.NewDisposeScope())
        {
            LastGradients.Clear();
            foreach (var p in _parameters)
            {
                if (p.grad is not { } g)
                    continue;
                LastGradients.Add(g.to(ScalarType.Float64).cpu().data<double>().ToArray());
                p.add_(g, alpha: -_learningRate);
            }
        }
        Steps++;
        return loss!;
    }

    public override void zero_grad()
    {
        foreach (var p in _parameters)
        {
            if (p.grad is { } g)
                g.zero_();
        }
    }

    public override IEnumerable<Parameter> parameters() => _parameters;
}
