using System.Diagnostics;
using System.Globalization;
using Components.Core;
using Components.Core.Data;
using Components.Tests.Harness;
using Components.Trainers.NeuralNetwork;
using Microsoft.ML;

namespace Components.Tests.Core;

/// <summary>
/// Loading a saved model in a process that has never called <c>RegisterComponents</c> (every other test shares one
/// process, in which some test has): plain <c>Model.Load</c> must fail with a message that names the missing call, and
/// after the call the model must load and predict as the saving process did. The child process is this test assembly
/// run as a program (<see cref="FreshProcessProgram"/>).
/// </summary>
public sealed class FreshProcessLoadTests
{
    internal const string Command = "load-in-fresh-process";

    [Fact]
    public void InAFreshProcessPlainModelLoadNamesRegisterComponentsAndLoadsAfterTheCall()
    {
        var ml = new MLContext(seed: 1);
        var data = SyntheticData.GaussianBlobs(ml, 40, 4, 2);
        var pipeline = ml.Transforms.NormalizeMinMax("Features")
            .Append(ml.Regression.Trainers.NeuralNetwork(new NeuralNetworkRegressionTrainer.Options { LabelColumnName = "Target", HiddenLayerWidths = [4], NumberOfEpochs = 1, Seed = 1 }))
            .Fit(data);
        var expected = EstimatorHarness.ReadColumn(pipeline.Transform(data), "Score").Select(r => r[0]).ToArray();
        var path = Path.Combine(Path.GetTempPath(), $"components-fresh-load-{Environment.ProcessId}-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(pipeline, data.Schema, path);
            var (exitCode, output) = RunChild(path);
            Assert.True(exitCode == 0, $"child process exited with {exitCode}:\n{output}");
            var lines = output.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();

            // Without the call: ML.NET cannot load the loader assembly the model names, and that name is the fix.
            var baseType = Assert.Single(lines, l => l.StartsWith("base-type=", StringComparison.Ordinal))["base-type=".Length..];
            var baseMessage = Assert.Single(lines, l => l.StartsWith("base-message=", StringComparison.Ordinal))["base-message=".Length..];
            Assert.True(baseType == typeof(FileNotFoundException).FullName, output);
            Assert.Contains("MLContext.RegisterComponents() before Model.Load", baseMessage);

            // After the call: the same scores as in this process.
            var scores = lines.Where(l => l.StartsWith("score=", StringComparison.Ordinal))
                .Select(l => double.Parse(l["score=".Length..], CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(expected, scores);
        }
        finally
        {
            File.Delete(path);
            (pipeline as IDisposable)?.Dispose();
        }
    }

    private static (int ExitCode, string Output) RunChild(string modelPath)
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (string.IsNullOrEmpty(host))
            host = Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
        var psi = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(typeof(FreshProcessLoadTests).Assembly.Location);
        psi.ArgumentList.Add(Command);
        psi.ArgumentList.Add(modelPath);
        using var child = Process.Start(psi)!;
        var stderr = child.StandardError.ReadToEndAsync();
        var stdout = child.StandardOutput.ReadToEndAsync();
        // A guard against a hung child, not a speed check (it takes seconds).
        if (!child.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            child.Kill(entireProcessTree: true);
            Assert.Fail("The child process did not finish within 5 minutes.");
        }
        child.WaitForExit();
        return (child.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>The child's side: plain load (expected to fail), then register and load; results on stdout.</summary>
    internal static int LoadInFreshProcess(string modelPath)
    {
        try
        {
            new MLContext().Model.Load(modelPath, out _);
            Console.WriteLine("unregistered-load=succeeded");
        }
        catch (Exception e)
        {
            var inner = e.GetBaseException();
            Console.WriteLine($"base-type={inner.GetType().FullName}");
            Console.WriteLine($"base-message={inner.Message.ReplaceLineEndings(" ")}");
            Console.WriteLine(e);
        }

        var ml = new MLContext().RegisterComponents();
        var model = ml.Model.Load(modelPath, out _);
        foreach (var row in EstimatorHarness.ReadColumn(model.Transform(SyntheticData.GaussianBlobs(ml, 40, 4, 2)), "Score"))
            Console.WriteLine("score=" + row[0].ToString("R", CultureInfo.InvariantCulture));
        (model as IDisposable)?.Dispose();
        return 0;
    }
}

/// <summary>
/// The test assembly's entry point (it replaces the empty one the test SDK generates): with
/// <see cref="FreshProcessLoadTests.Command"/> it runs <see cref="FreshProcessLoadTests.LoadInFreshProcess"/>.
/// </summary>
internal static class FreshProcessProgram
{
    public static int Main(string[] args)
        => args.Length == 2 && args[0] == FreshProcessLoadTests.Command ? FreshProcessLoadTests.LoadInFreshProcess(args[1]) : 0;
}
