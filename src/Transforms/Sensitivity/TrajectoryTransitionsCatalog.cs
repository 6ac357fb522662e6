using Components.Core.Runtime;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;

namespace Components.Transforms.Sensitivity;

/// <summary>Entry points of <see cref="TrajectoryTransitionsEstimator"/> on <c>ml.Transforms</c>.</summary>
public static class TrajectoryTransitionsCatalog
{
    /// <summary>
    /// Appends <c>Transitions</c>: per row the ReLU activation-pattern changes of <paramref name="model"/> along the closed
    /// trajectory (the ellipse for 3 anchors) through the anchor points held in <paramref name="inputColumnName"/>.
    /// </summary>
    /// <param name="catalog">The transforms catalog (<c>ml.Transforms</c>).</param>
    /// <param name="model">A trained fully connected ReLU <see cref="NeuralNetworkModel"/>.</param>
    /// <param name="inputColumnName">A Single vector of 3 × the network's input size values (three anchor points).</param>
    /// <exception cref="ArgumentException">The network is not a fully connected ReLU network.</exception>
    public static TrajectoryTransitionsEstimator TrajectoryTransitions(this TransformsCatalog catalog, NeuralNetworkModel model, string inputColumnName)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new TrajectoryTransitionsEstimator(CatalogEnvironment.Get(catalog), model, new TrajectoryTransitionsEstimator.Options { InputColumnName = inputColumnName });
    }

    /// <summary>Appends the transitions along each row's closed trajectory, with every option.</summary>
    /// <param name="catalog">The transforms catalog (<c>ml.Transforms</c>).</param>
    /// <param name="model">A trained fully connected ReLU <see cref="NeuralNetworkModel"/>.</param>
    /// <param name="options">Columns, anchor count, points per trajectory, batch size, device.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (named in the message).</exception>
    public static TrajectoryTransitionsEstimator TrajectoryTransitions(this TransformsCatalog catalog, NeuralNetworkModel model, TrajectoryTransitionsEstimator.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new TrajectoryTransitionsEstimator(CatalogEnvironment.Get(catalog), model, options);
    }
}
