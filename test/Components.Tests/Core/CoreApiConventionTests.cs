using System.Reflection;
using Components.Core.Runtime;
using Components.Samplers;
using Components.Samplers.Hmc;
using Components.Trainers.NeuralNetwork;
using Components.Trainers.Nngp;
using Components.Transforms.Svcca;
using Microsoft.ML;

namespace Components.Tests.Core;

public sealed class CoreApiConventionTests
{
    private static readonly Assembly[] Libraries =
        [typeof(NeuralNetworkMulticlassTrainer).Assembly, typeof(SvccaEstimator).Assembly, typeof(HmcEstimator).Assembly];

    private static IEnumerable<Type> PublicEstimators() => Libraries.SelectMany(a => a.GetExportedTypes())
        .Where(t => !t.IsAbstract && t.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEstimator<>)));

    [Fact]
    public void EveryEstimatorHasANestedOptionsClassOfFieldsDerivingFromComponentOptions()
    {
        var estimators = PublicEstimators().ToList();
        Assert.True(estimators.Count >= 6, string.Join(", ", estimators.Select(t => t.Name)));
        foreach (var estimator in estimators)
        {
            var options = estimator.GetNestedType("Options");
            Assert.True(options is not null, $"{estimator.Name} has no nested Options class.");
            Assert.True(options!.IsSubclassOf(typeof(ComponentOptions)), $"{estimator.Name}.Options does not derive from ComponentOptions.");
            Assert.True(options.IsSealed, $"{estimator.Name}.Options is not sealed.");
            Assert.NotNull(options.GetConstructor(Type.EmptyTypes));
            var properties = options.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => p.Name).ToList();
            Assert.True(properties.Count == 0, $"{estimator.Name}.Options has properties ({string.Join(", ", properties)}); options are fields, as ML.NET's.");
            // The shared fields are declared once, on ComponentOptions.
            foreach (var shared in new[] { "Seed", "Device", "CancellationToken" })
                Assert.Equal(typeof(ComponentOptions), options.GetField(shared)!.DeclaringType);
        }
    }

    [Fact]
    public void EstimatorsAreCreatedFromAnEnvironmentNotAnMLContext()
    {
        foreach (var estimator in PublicEstimators())
        {
            foreach (var ctor in estimator.GetConstructors(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                Assert.DoesNotContain(ctor.GetParameters(), p => p.ParameterType == typeof(MLContext));
        }
    }

    [Fact]
    public void AnAreaCatalogHandsItsComponentsTheMLContext()
    {
        var ml = new MLContext(seed: 3);
        Assert.Same(ml, CatalogEnvironment.Get(ml.Samplers));
        Assert.NotNull(CatalogEnvironment.Get(ml.Transforms)); // ML.NET's own catalogs, through the shim
        Assert.Throws<ArgumentException>(() => CatalogEnvironment.Get(new object()));
    }

    [Fact]
    public void SharedBaseOptionsDeriveFromComponentOptions()
    {
        Assert.True(typeof(NeuralNetworkOptions).IsSubclassOf(typeof(ComponentOptions)));
        Assert.True(typeof(NngpTrainerOptions).IsSubclassOf(typeof(ComponentOptions)));
    }
}
