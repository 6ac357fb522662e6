using Components.Core.Persistence;

namespace Components.Transforms.Svcca;

/// <summary>Binary serialisation of <see cref="SvccaResult"/> inside a model file.</summary>
internal static class SvccaResultFormat
{
    // *** Binary format ***
    // double: threshold, linear CKA, variance kept A, variance kept B; long: datapoints
    // int: neurons A, neurons B, kept A, kept B, PWCCA side
    // doubles (length-prefixed): ρ, PWCCA weights, mean A, mean B, projection A (row-major), projection B (row-major)
    public static void Write(BinaryWriter w, SvccaResult r)
    {
        w.Write(r.Threshold);
        w.Write(r.LinearCka);
        w.Write(r.VarianceKeptA);
        w.Write(r.VarianceKeptB);
        w.Write(r.Datapoints);
        w.Write(r.NeuronsA);
        w.Write(r.NeuronsB);
        w.Write(r.KeptA);
        w.Write(r.KeptB);
        w.Write((int)r.PwccaSide);
        w.WriteDoubles(r.CoefficientArray);
        w.WriteDoubles(r.PwccaWeightArray);
        w.WriteDoubles(r.MeanAArray);
        w.WriteDoubles(r.MeanBArray);
        w.WriteDoubles(Flatten(r.ProjectionAArray));
        w.WriteDoubles(Flatten(r.ProjectionBArray));
    }

    public static SvccaResult Read(BinaryReader br)
    {
        double threshold = br.ReadDouble();
        double cka = br.ReadDouble();
        double keptVarA = br.ReadDouble();
        double keptVarB = br.ReadDouble();
        long n = br.ReadInt64();
        int p = br.ReadInt32(), q = br.ReadInt32(), ka = br.ReadInt32(), kb = br.ReadInt32();
        var side = (SvccaSide)br.ReadInt32();
        BinaryFormat.CheckDecode(p > 0 && q > 0 && ka > 0 && kb > 0 && ka <= p && kb <= q && n > 0, "dimensions");
        BinaryFormat.CheckDecode(Enum.IsDefined(side), "PWCCA side");
        int m = Math.Min(ka, kb);
        var rho = br.ReadDoubles(m);
        var weights = br.ReadDoubles(m);
        var meanA = br.ReadDoubles(p);
        var meanB = br.ReadDoubles(q);
        var projA = br.ReadDoubles(p * m);
        var projB = br.ReadDoubles(q * m);
        BinaryFormat.CheckDecode(rho.Length == m && weights.Length == m && meanA.Length == p && meanB.Length == q
            && projA.Length == p * m && projB.Length == q * m, "array lengths");
        BinaryFormat.CheckDecode(rho.Concat(weights).Concat(meanA).Concat(meanB).Concat(projA).Concat(projB).All(double.IsFinite), "non-finite value");
        return new SvccaResult(rho, threshold, n, p, q, ka, kb, keptVarA, keptVarB, meanA, meanB,
            Unflatten(projA, p, m), Unflatten(projB, q, m), weights, side, cka);
    }

    private static double[] Flatten(double[,] m)
    {
        var flat = new double[m.Length];
        Buffer.BlockCopy(m, 0, flat, 0, m.Length * sizeof(double));
        return flat;
    }

    private static double[,] Unflatten(double[] flat, int rows, int cols)
    {
        var m = new double[rows, cols];
        Buffer.BlockCopy(flat, 0, m, 0, flat.Length * sizeof(double));
        return m;
    }
}
