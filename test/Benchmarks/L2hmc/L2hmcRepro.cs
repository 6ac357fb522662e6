namespace Components.Benchmarks.L2hmc;

/// <summary>Reproduction of the paper's ESS comparison (placeholder).</summary>
public static class L2hmcRepro
{
    public static int Run(string[] args) => 0;
}
