// Checks the packages made by `dotnet pack Components.sln -c Release -o DIR`.
// Usage: dotnet run .ci/CheckPackages.cs -- DIR VERSION REPO_ROOT
// - exactly the six library packages, each with its dll, XML docs, PACKAGE.md readme and the MIT licence expression;
// - Components.Core carries build/ and buildTransitive/Components.Core.targets, identical to src/Core/build/;
// - external dependencies are Microsoft.ML and TorchSharp only, at the versions of Directory.Packages.props
//   (never TorchSharp-cpu/-cuda, libtorch-*, Microsoft.ML.TorchSharp); Components.Orleans, the one library that may
//   reference Orleans, also depends on Microsoft.Orleans.Sdk at its central version;
// - dependencies between our packages are exactly the csproj ProjectReferences, at the same version.
// Exits 1 with one line per problem.
using System.IO.Compression;
using System.Xml.Linq;

if (args.Length != 3)
{
    Console.Error.WriteLine("usage: dotnet run .ci/CheckPackages.cs -- PACKAGE_DIR VERSION REPO_ROOT");
    return 2;
}
var (dir, version, repo) = (args[0], args[1], args[2]);
var problems = new List<string>();
string[] ids = ["Components.Core", "Components.Transforms", "Components.Trainers", "Components.Kernels", "Components.Samplers", "Components.Orleans"];

var central = XDocument.Load(Path.Combine(repo, "Directory.Packages.props")).Descendants("PackageVersion")
    .ToDictionary(e => (string)e.Attribute("Include")!, e => (string)e.Attribute("Version")!);
var allowedExternal = new Dictionary<string, string> { ["Microsoft.ML"] = central["Microsoft.ML"], ["TorchSharp"] = central["TorchSharp"] };
// Packages one library may depend on beyond Microsoft.ML and TorchSharp (docs/architecture.md says why).
var extraExternal = new Dictionary<string, Dictionary<string, string>>
{
    ["Components.Orleans"] = new() { ["Microsoft.Orleans.Sdk"] = central["Microsoft.Orleans.Sdk"] },
};

var found = Directory.GetFiles(dir, "*.nupkg").Select(Path.GetFileName).Order().ToArray();
var expected = ids.Select(id => $"{id}.{version}.nupkg").Order().ToArray();
if (!found.SequenceEqual(expected))
    problems.Add($"packages: expected [{string.Join(", ", expected)}], found [{string.Join(", ", found)}]");

foreach (var id in ids)
{
    var path = Path.Combine(dir, $"{id}.{version}.nupkg");
    if (!File.Exists(path))
        continue;
    using var zip = ZipFile.OpenRead(path);
    var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
    foreach (var required in new[] { $"lib/net10.0/{id}.dll", $"lib/net10.0/{id}.xml", "PACKAGE.md", $"{id}.nuspec" })
        if (!entries.Contains(required))
            problems.Add($"{id}: missing {required}");
    if (id == "Components.Core")
    {
        var source = File.ReadAllBytes(Path.Combine(repo, "src/Core/build/Components.Core.targets"));
        foreach (var t in new[] { "build/Components.Core.targets", "buildTransitive/Components.Core.targets" })
        {
            var e = zip.GetEntry(t);
            if (e is null)
            {
                problems.Add($"{id}: missing {t}");
                continue;
            }
            using var s = e.Open();
            using var ms = new MemoryStream();
            s.CopyTo(ms);
            if (!ms.ToArray().AsSpan().SequenceEqual(source))
                problems.Add($"{id}: {t} differs from src/Core/build/Components.Core.targets");
        }
    }
    else if (entries.Any(e => e.StartsWith("build", StringComparison.Ordinal)))
        problems.Add($"{id}: unexpected build assets ({string.Join(", ", entries.Where(e => e.StartsWith("build", StringComparison.Ordinal)))})");

    var nuspecEntry = zip.GetEntry($"{id}.nuspec");
    if (nuspecEntry is null)
        continue;
    XDocument nuspec;
    using (var s = nuspecEntry.Open())
        nuspec = XDocument.Load(s);
    var meta = nuspec.Root!.Elements().First(e => e.Name.LocalName == "metadata");
    string? Meta(string name) => meta.Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value;
    if (Meta("id") != id || Meta("version") != version)
        problems.Add($"{id}: nuspec says {Meta("id")} {Meta("version")}");
    if (Meta("license") != "MIT")
        problems.Add($"{id}: licence is '{Meta("license")}', expected the MIT expression");
    if (Meta("readme") != "PACKAGE.md")
        problems.Add($"{id}: readme is '{Meta("readme")}'");
    if (string.IsNullOrWhiteSpace(Meta("description")))
        problems.Add($"{id}: no description");

    var groups = meta.Descendants().Where(e => e.Name.LocalName == "group").ToArray();
    if (groups.Length != 1 || (string?)groups[0].Attribute("targetFramework") != "net10.0")
        problems.Add($"{id}: expected one dependency group for net10.0, found [{string.Join(", ", groups.Select(g => (string?)g.Attribute("targetFramework")))}]");
    var deps = meta.Descendants().Where(e => e.Name.LocalName == "dependency")
        .Select(e => (Id: (string)e.Attribute("id")!, Version: (string)e.Attribute("version")!, Exclude: (string?)e.Attribute("exclude") ?? ""))
        .ToArray();

    // Our own packages: exactly the project's ProjectReferences, at this version.
    var project = XDocument.Load(Path.Combine(repo, "src", id["Components.".Length..], $"{id}.csproj"));
    var internalExpected = project.Descendants("ProjectReference")
        .Select(e => Path.GetFileNameWithoutExtension(((string)e.Attribute("Include")!).Replace('\\', '/')))
        .Order().ToArray();
    var internalFound = deps.Where(d => d.Id.StartsWith("Components.", StringComparison.Ordinal)).Select(d => d.Id).Order().ToArray();
    if (!internalFound.SequenceEqual(internalExpected))
        problems.Add($"{id}: depends on [{string.Join(", ", internalFound)}], its ProjectReferences are [{string.Join(", ", internalExpected)}]");
    foreach (var d in deps.Where(d => d.Id.StartsWith("Components.", StringComparison.Ordinal) && d.Version != version))
        problems.Add($"{id}: dependency {d.Id} has version {d.Version}, expected {version}");

    // External packages: Microsoft.ML and TorchSharp only (plus the library's extras), at the central versions, with compile and runtime assets.
    var extras = extraExternal.GetValueOrDefault(id) ?? [];
    foreach (var d in deps.Where(d => !d.Id.StartsWith("Components.", StringComparison.Ordinal)))
    {
        if (!allowedExternal.TryGetValue(d.Id, out var v) && !extras.TryGetValue(d.Id, out v))
            problems.Add($"{id}: depends on {d.Id} {d.Version}; library packages may depend on Microsoft.ML and TorchSharp only (the app picks the TorchSharp backend)");
        else if (d.Version != v)
            problems.Add($"{id}: depends on {d.Id} {d.Version}, Directory.Packages.props says {v}");
        if (d.Exclude.Contains("Compile", StringComparison.OrdinalIgnoreCase) || d.Exclude.Contains("Runtime", StringComparison.OrdinalIgnoreCase))
            problems.Add($"{id}: dependency {d.Id} excludes '{d.Exclude}'");
    }
    foreach (var must in allowedExternal.Keys.Concat(extras.Keys).Where(k => deps.All(d => d.Id != k)))
        problems.Add($"{id}: does not depend on {must}");

    Console.WriteLine($"{id} {version}: {entries.Count(e => !e.EndsWith(".rels", StringComparison.Ordinal) && !e.StartsWith("package/", StringComparison.Ordinal) && e != "[Content_Types].xml")} files; depends on {string.Join(", ", deps.Select(d => $"{d.Id} {d.Version}"))}");
}

foreach (var p in problems)
    Console.Error.WriteLine($"check-packages: {p}");
Console.WriteLine(problems.Count == 0 ? "check-packages: all package checks passed" : $"check-packages: {problems.Count} problem(s)");
return problems.Count == 0 ? 0 : 1;
