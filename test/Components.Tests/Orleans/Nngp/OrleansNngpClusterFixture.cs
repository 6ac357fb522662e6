using Orleans.Hosting;
using Orleans.TestingHost;

namespace Components.Tests.Orleans.Nngp;

/// <summary>
/// One Orleans TestingHost cluster of three in-process silos for every Orleans NNGP test (started once: a few
/// seconds). Tests that stop a silo start a new one before they end, so the others see three.
/// </summary>
public sealed class OrleansNngpClusterFixture : IAsyncLifetime
{
    public const int Silos = 3;

    public TestCluster Cluster { get; private set; } = null!;

    public IClusterClient Client => Cluster.Client;

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(Silos);
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }

    /// <summary>Brings the cluster back to <see cref="Silos"/> active silos.</summary>
    public async Task RestoreAsync()
    {
        while (Cluster.GetActiveSilos().Count() < Silos)
            await Cluster.StartAdditionalSiloAsync();
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
        }
    }
}

[CollectionDefinition(Name)]
public sealed class OrleansNngpClusterCollection : ICollectionFixture<OrleansNngpClusterFixture>
{
    public const string Name = "Orleans NNGP cluster";
}
