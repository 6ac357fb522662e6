using Microsoft.Extensions.Configuration;
using Orleans.Configuration;
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

    /// <summary>Orleans' message body limit on the silos and the client: 1 MiB, so that tests reach the operator's message splitting.</summary>
    public const int MaxMessageBodySize = 1 << 20;

    public TestCluster Cluster { get; private set; } = null!;

    public IClusterClient Client => Cluster.Client;

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(Silos);
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
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
            => siloBuilder.Configure<SiloMessagingOptions>(o => o.MaxMessageBodySize = MaxMessageBodySize);
    }

    private sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder clientBuilder)
            => clientBuilder.Configure<ClientMessagingOptions>(o => o.MaxMessageBodySize = MaxMessageBodySize);
    }
}

[CollectionDefinition(Name)]
public sealed class OrleansNngpClusterCollection : ICollectionFixture<OrleansNngpClusterFixture>
{
    public const string Name = "Orleans NNGP cluster";
}
