using System.IO.Compression;
using Components.Core.Data;
using Components.Core.Tensors;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Components.Tests.Core.Data;

public sealed class FashionMnistDataTests
{
    private static readonly MLContext s_ml = new(seed: 0);

    [Fact]
    public void EmbeddedSubsetIsClassBalancedAndScaled()
    {
        var data = FashionMnist.LoadEmbeddedSubset(s_ml);
        Assert.True(data.IsEmbeddedSubset);
        Assert.Equal(2000, data.Train.GetRowCount());
        Assert.Equal(1000, data.Test.GetRowCount());
        var (labels, names) = DataLoading.LoadKeyLabels(data.Train, "Label");
        using (labels)
        {
            Assert.Equal(FashionMnist.ClassNames, names);
            using var counts = TorchSharp.torch.bincount(labels, minlength: 10);
            Assert.All(counts.data<long>().ToArray(), c => Assert.Equal(200, c));
        }
        using var x = DataLoading.LoadFeatures(data.Test, "Features");
        Assert.Equal(new long[] { 1000, 784 }, x.shape);
        Assert.True(x.min().item<float>() >= 0f && x.max().item<float>() <= 1f);
        Assert.True(x.max().item<float>() == 1f); // 255 maps to exactly 1
    }

    [Fact]
    public void LoadFallsBackOrReadsTheFullDataset()
    {
        // With the Debian package installed this reads 60,000/10,000 rows; without it, the embedded subset.
        var data = FashionMnist.Load(s_ml, trainRows: Directory.Exists(FashionMnist.DebianDirectory) ? 5000 : null);
        if (data.IsEmbeddedSubset)
            Assert.Equal(2000, data.Train.GetRowCount());
        else
        {
            Assert.Equal(5000, data.Train.GetRowCount());
            Assert.Equal(10000, data.Test.GetRowCount());
        }
    }

    [Fact]
    public void ExplicitDirectoryWithoutFilesSaysHowToInstall()
    {
        var dir = Directory.CreateTempSubdirectory().FullName;
        var ex = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(s_ml, dir));
        Assert.Contains("apt-get install dataset-fashion-mnist", ex.Message);
    }

    [Fact]
    public void CorruptFilesGiveAClearError()
    {
        var dir = Directory.CreateTempSubdirectory().FullName;
        foreach (var stem in new[] { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" })
            File.WriteAllBytes(Path.Combine(dir, stem), [0, 0, 8, 3, 0, 0, 0, 9]); // truncated header
        var ex = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(s_ml, dir));
        Assert.Contains("truncated", ex.Message);
        Assert.Contains("dataset-fashion-mnist", ex.Message);
    }

    [Fact]
    public void IdxReaderReadsPlainAndGzipAndRejectsBadMagic()
    {
        var dir = Directory.CreateTempSubdirectory().FullName;
        byte[] idx = [0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9];
        var plain = Path.Combine(dir, "labels");
        File.WriteAllBytes(plain, idx);
        Assert.Equal(new byte[] { 7, 8, 9 }, IdxReader.ReadLabels(plain));
        var gz = Path.Combine(dir, "labels.gz");
        using (var f = File.Create(gz))
        using (var g = new GZipStream(f, CompressionLevel.Fastest))
            g.Write(idx);
        Assert.Equal(new byte[] { 7, 8, 9 }, IdxReader.ReadLabels(gz));
        var bad = Path.Combine(dir, "bad");
        File.WriteAllBytes(bad, [1, 0, 8, 1, 0, 0, 0, 0]);
        Assert.Throws<InvalidDataException>(() => IdxReader.Read(bad));
        Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(plain)); // 1-d file is not an image file
    }

    [Fact]
    public void ShuffledCursorVisitsEveryRowOnce()
    {
        var data = FashionMnist.LoadEmbeddedSubset(s_ml, trainRows: 50).Train;
        var shuffled = s_ml.Data.ShuffleRows(data, seed: 3);
        var ids = new List<ulong>();
        using var cursor = shuffled.GetRowCursor(shuffled.Schema);
        var id = cursor.GetIdGetter();
        DataViewRowId v = default;
        while (cursor.MoveNext())
        {
            id(ref v);
            ids.Add(v.Low);
        }
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (ulong)i), ids.Order());
    }
}

public sealed class SyntheticDataTests
{
    [Fact]
    public void BlobsHaveKeyLabelsInClassOrder()
    {
        var ml = new MLContext(seed: 0);
        var data = SyntheticData.GaussianBlobs(ml, 30, 4, 3, seed: 1);
        var (labels, names) = DataLoading.LoadKeyLabels(data, "Label");
        using (labels)
        {
            Assert.Equal(new[] { "c0", "c1", "c2" }, names);
            Assert.Equal(new long[] { 0, 1, 2, 0 }, labels.data<long>().ToArray().Take(4));
        }
    }

    [Fact]
    public void CorrelatedGaussiansShareTheLatent()
    {
        var (a, b) = SyntheticData.CorrelatedGaussians(2000, 3, 3, 1, 0.01, seed: 2);
        // One shared latent with tiny noise: column 0 of A and column 0 of B are almost perfectly correlated.
        double Corr(int ja, int jb)
        {
            int n = a.GetLength(0);
            double ma = 0, mb = 0;
            for (int i = 0; i < n; i++) { ma += a[i, ja]; mb += b[i, jb]; }
            ma /= n; mb /= n;
            double sab = 0, saa = 0, sbb = 0;
            for (int i = 0; i < n; i++) { sab += (a[i, ja] - ma) * (b[i, jb] - mb); saa += Math.Pow(a[i, ja] - ma, 2); sbb += Math.Pow(b[i, jb] - mb, 2); }
            return sab / Math.Sqrt(saa * sbb);
        }
        Assert.True(Math.Abs(Corr(0, 0)) > 0.99);
    }
}
