using Components.Trainers;
using Components.Trainers.Gan;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Benchmarks.Gan;

/// <summary>Objectives compared by the GAN runners, and helpers shared by them.</summary>
internal static class GanRuns
{
    /// <summary>A labelled objective setting.</summary>
    public sealed record Setting(string Label, GanObjective Objective, double Alpha = 0.5, GanObjective? Final = null)
    {
        public void Apply(GanEstimator.Options o)
        {
            o.Objective = Objective;
            o.Alpha = Alpha;
            o.FinalObjective = Final;
        }
    }

    public static readonly Setting[] All =
    [
        new("minimax", GanObjective.Minimax),
        new("−log D", GanObjective.NonSaturating),
        new("reverse KL", GanObjective.ReverseKl),
        new("forward KL", GanObjective.ForwardKl),
        new("JS", GanObjective.JensenShannon),
        new("sq. Hellinger", GanObjective.SquaredHellinger),
        new("Pearson χ²", GanObjective.PearsonChiSquared),
        new("α = −1", GanObjective.Alpha, -1),
        new("α = 2", GanObjective.Alpha, 2),
        new("−log D → reverse KL", GanObjective.NonSaturating, Final: GanObjective.ReverseKl),
    ];

    private sealed class VectorRow
    {
        public float[] Features { get; set; } = [];
    }

    public static IDataView Rows(MLContext ml, float[][] rows)
    {
        var schema = SchemaDefinition.Create(typeof(VectorRow));
        schema[nameof(VectorRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, rows[0].Length);
        return ml.Data.LoadFromEnumerable(rows.Select(r => new VectorRow { Features = r }).ToList(), schema);
    }

    public static string Arg(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    public static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
}
