using System.Reflection;
using Components.Core.Persistence;
using System.Reflection.Emit;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Components.Core.Internal;

/// <summary>
/// The one place in the suite that touches ML.NET internals (by reflection). Everything here is checked once,
/// at first use, against the running ML.NET version; a missing member throws one <see cref="NotSupportedException"/>
/// that names the version. Why each piece is needed:
/// <list type="bullet">
/// <item><c>SchemaShape.Column</c> has only an internal constructor, and estimators must add columns in
/// <c>GetOutputSchema</c>.</item>
/// <item><c>ModelSaveContext</c>/<c>ModelLoadContext</c> expose their members only internally, and the loader lookup
/// uses the internal <c>LoadableClassAttribute</c>; a dynamic bridge assembly carries those attributes so that
/// <c>mlContext.Model.Save/Load</c> round-trip suite components.</item>
/// <item><c>TrainerInfo</c> (the <c>Info</c> of an <c>ITrainerEstimator</c>) has only an internal constructor.</item>
/// <item>A catalog's environment (for the seed, <c>GpuDeviceId</c>, <c>FallbackToCpu</c>, logging) is reachable only
/// through the internal <c>IInternalCatalog</c>/<c>IHostEnvironmentInternal</c> interfaces.</item>
/// </list>
/// </summary>
internal static class MlNetShim
{
    private const BindingFlags Any = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;
    private static readonly Lazy<Members> s_members = new(Resolve, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly object s_bridgeLock = new();
    private static Assembly? s_bridge;
    private static readonly Dictionary<string, Type> s_loaders = new(StringComparer.Ordinal);

    /// <summary>The ML.NET version the shim was written and tested against.</summary>
    public const string SupportedVersion = "5.0.1";

    /// <summary>The informational version of the loaded Microsoft.ML.Core assembly.</summary>
    public static string LoadedVersion => typeof(ICanSaveModel).Assembly
        .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? typeof(ICanSaveModel).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>Resolves every internal member the suite needs; throws one clear error if any is missing.</summary>
    public static void EnsureSupported()
    {
        _ = s_members.Value;
        _ = s_trainerInfoCtor.Value;
    }

    private sealed record Members(
        ConstructorInfo ColumnCtor,
        MethodInfo ShapeCreate,
        ConstructorInfo VersionInfoCtor,
        MethodInfo SaveCheckAtModel,
        MethodInfo SaveSetVersionInfo,
        FieldInfo SaveWriter,
        MethodInfo SaveBinaryStream,
        MethodInfo LoadCheckAtModel,
        FieldInfo LoadReader,
        FieldInfo LoadHeader,
        FieldInfo HeaderModelVerWritten,
        FieldInfo HeaderCbModel,
        FieldInfo LoadDirectory,
        MethodInfo LoadTryLoadBinaryStream,
        ConstructorInfo LoadableClassCtor,
        Type SignatureLoadModel,
        Type ModelLoadContext,
        PropertyInfo CatalogEnvironment,
        Type EnvInternal,
        PropertyInfo EnvSeed,
        PropertyInfo EnvGpuDeviceId,
        PropertyInfo EnvFallbackToCpu);

    private static Members Resolve()
    {
        var missing = new List<string>();
        T Need<T>(T? value, string what) where T : class
        {
            if (value is null)
                missing.Add(what);
            return value!;
        }

        var core = typeof(ICanSaveModel).Assembly;
        var data = typeof(MLContext).Assembly;
        var columnCtor = Need(typeof(SchemaShape.Column).GetConstructors(BindingFlags.NonPublic | BindingFlags.Instance)
            .FirstOrDefault(c => c.GetParameters().Length == 5), "SchemaShape.Column..ctor(string, VectorKind, DataViewType, bool, SchemaShape)");
        var versionInfo = Need(core.GetType("Microsoft.ML.VersionInfo"), "Microsoft.ML.VersionInfo");
        var versionInfoCtor = Need(versionInfo?.GetConstructor(Any, [typeof(string), typeof(uint), typeof(uint), typeof(uint), typeof(string), typeof(string), typeof(string)]),
            "VersionInfo..ctor(string, uint, uint, uint, string, string, string)");
        var save = typeof(ModelSaveContext);
        var load = Need(core.GetType("Microsoft.ML.ModelLoadContext"), "Microsoft.ML.ModelLoadContext");
        var header = core.GetType("Microsoft.ML.ModelHeader");
        var loadable = Need(core.GetType("Microsoft.ML.LoadableClassAttribute"), "Microsoft.ML.LoadableClassAttribute");
        var sigLoad = Need(core.GetType("Microsoft.ML.SignatureLoadModel"), "Microsoft.ML.SignatureLoadModel");
        var internalCatalog = Need(data.GetType("Microsoft.ML.Data.IInternalCatalog"), "Microsoft.ML.Data.IInternalCatalog");
        var envInternal = Need(core.GetType("Microsoft.ML.Runtime.IHostEnvironmentInternal"), "Microsoft.ML.Runtime.IHostEnvironmentInternal");

        var members = new Members(
            columnCtor,
            Need(typeof(SchemaShape).GetMethod("Create", BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.Static, [typeof(DataViewSchema)]), "SchemaShape.Create(DataViewSchema)"),
            versionInfoCtor,
            Need(save.GetMethod("CheckAtModel", Any, Type.EmptyTypes), "ModelSaveContext.CheckAtModel()"),
            Need(versionInfo is null ? null : save.GetMethod("SetVersionInfo", Any, [versionInfo]), "ModelSaveContext.SetVersionInfo(VersionInfo)"),
            Need(save.GetField("Writer", Any), "ModelSaveContext.Writer"),
            Need(save.GetMethod("SaveBinaryStream", Any, [typeof(string), typeof(Action<BinaryWriter>)]), "ModelSaveContext.SaveBinaryStream(string, Action<BinaryWriter>)"),
            Need(versionInfo is null ? null : load?.GetMethod("CheckAtModel", Any, [versionInfo]), "ModelLoadContext.CheckAtModel(VersionInfo)"),
            Need(load?.GetField("Reader", Any), "ModelLoadContext.Reader"),
            Need(load?.GetField("Header", Any), "ModelLoadContext.Header"),
            Need(header?.GetField("ModelVerWritten", Any), "ModelHeader.ModelVerWritten"),
            Need(header?.GetField("CbModel", Any), "ModelHeader.CbModel"),
            Need(load?.GetField("Directory", Any), "ModelLoadContext.Directory"),
            Need(load?.GetMethod("TryLoadBinaryStream", Any, [typeof(string), typeof(Action<BinaryReader>)]), "ModelLoadContext.TryLoadBinaryStream(string, Action<BinaryReader>)"),
            Need(loadable?.GetConstructor(Any, [typeof(Type), typeof(Type), typeof(Type), typeof(Type), typeof(string), typeof(string[])]),
                "LoadableClassAttribute..ctor(Type, Type, Type, Type, string, string[])"),
            sigLoad,
            load!,
            Need(internalCatalog?.GetProperty("Environment", Any), "IInternalCatalog.Environment"),
            envInternal,
            Need(envInternal?.GetProperty("Seed", Any), "IHostEnvironmentInternal.Seed"),
            Need(envInternal?.GetProperty("GpuDeviceId", Any), "IHostEnvironmentInternal.GpuDeviceId"),
            Need(envInternal?.GetProperty("FallbackToCpu", Any), "IHostEnvironmentInternal.FallbackToCpu"));

        if (missing.Count > 0)
        {
            throw new NotSupportedException(
                $"The Components suite supports Microsoft.ML {SupportedVersion}; the loaded Microsoft.ML ({LoadedVersion}) lacks " +
                $"internal members the suite needs for schema propagation and model persistence: {string.Join("; ", missing)}. " +
                $"Reference Microsoft.ML {SupportedVersion}.");
        }
        return members;
    }

    // ---------------------------------------------------------------- schema

    /// <summary>Builds a <see cref="SchemaShape.Column"/> (its constructor is internal).</summary>
    public static SchemaShape.Column MakeColumn(string name, SchemaShape.Column.VectorKind kind, DataViewType itemType, bool isKey, SchemaShape? annotations = null)
        => (SchemaShape.Column)s_members.Value.ColumnCtor.Invoke([name, kind, itemType, isKey, annotations ?? new SchemaShape([])]);

    /// <summary>The estimator-time shape of a runtime schema (<c>SchemaShape.Create</c> is internal).</summary>
    public static SchemaShape ShapeOf(DataViewSchema schema) => (SchemaShape)Invoke(s_members.Value.ShapeCreate, null!, [schema])!;

    // ---------------------------------------------------------------- environment

    /// <summary>The environment behind a catalog (an <c>MLContext</c>'s catalogs all share it).</summary>
    public static IHostEnvironment GetEnvironment(object catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        if (catalog is IHostEnvironment env)
            return env;
        var m = s_members.Value;
        var iface = m.CatalogEnvironment.DeclaringType!;
        if (!iface.IsInstanceOfType(catalog))
            throw new ArgumentException($"Object of type {catalog.GetType().Name} is not an ML.NET catalog.", nameof(catalog));
        return (IHostEnvironment)m.CatalogEnvironment.GetValue(catalog)!;
    }

    /// <summary>Seed, GPU device id and CPU fallback of an environment (an <c>MLContext</c> or its internal environment).</summary>
    public static (int? Seed, int? GpuDeviceId, bool FallbackToCpu) GetEnvironmentSettings(IHostEnvironment env)
    {
        if (env is MLContext ml)
            return (GetSeed(env), ml.GpuDeviceId, ml.FallbackToCpu);
        var m = s_members.Value;
        if (!m.EnvInternal.IsInstanceOfType(env))
            return (null, null, true);
        return ((int?)m.EnvSeed.GetValue(env), (int?)m.EnvGpuDeviceId.GetValue(env), (bool)m.EnvFallbackToCpu.GetValue(env)!);
    }

    private static int? GetSeed(IHostEnvironment env)
    {
        var m = s_members.Value;
        return m.EnvInternal.IsInstanceOfType(env) ? (int?)m.EnvSeed.GetValue(env) : null;
    }

    // ---------------------------------------------------------------- saving

    /// <summary>
    /// Starts writing a component model: checks the context and records the version header. When the model stream
    /// is seekable (always inside a model zip) the header's versions carry <see cref="ModelVersion.IntegrityFlag"/>,
    /// which tells the loader that every stream starts with an integrity block; the caller must then write one.
    /// </summary>
    public static (BinaryWriter Writer, bool WithIntegrity) BeginSave(ModelSaveContext ctx, ModelVersion version, Type componentType)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var m = s_members.Value;
        Invoke(m.SaveCheckAtModel, ctx, []);
        var writer = (BinaryWriter)m.SaveWriter.GetValue(ctx)!;
        bool integrity = writer.BaseStream.CanSeek;
        uint flag = integrity ? ModelVersion.IntegrityFlag : 0;
        var info = m.VersionInfoCtor.Invoke([version.ModelSignature, version.VersionWritten | flag, version.VersionWritten | flag,
            version.VersionReadableBack, componentType.Assembly.FullName, version.LoaderSignature, null]);
        m.SaveSetVersionInfo.Invoke(ctx, [info]);
        return (writer, integrity);
    }

    /// <summary>Writes a named binary stream beside the model (e.g. TorchSharp state).</summary>
    public static void SaveBinaryStream(ModelSaveContext ctx, string name, Action<BinaryWriter> write)
        => Invoke(s_members.Value.SaveBinaryStream, ctx, [name, write]);

    // ---------------------------------------------------------------- loading

    /// <summary>
    /// Checks a load context against a component's version (accepting models written with and without
    /// <see cref="ModelVersion.IntegrityFlag"/>) and returns its reader, the version written (without the flag),
    /// whether the model has integrity blocks, and the size in bytes of its model block.
    /// </summary>
    public static (BinaryReader Reader, uint VersionWritten, bool WithIntegrity, long ModelBytes) BeginLoad(object ctx, ModelVersion version)
    {
        var m = s_members.Value;
        CheckLoadContext(ctx);
        const uint flag = ModelVersion.IntegrityFlag;
        var info = m.VersionInfoCtor.Invoke([version.ModelSignature, version.VersionWritten | flag, version.VersionWritten | flag,
            version.VersionReadableBack, null, version.LoaderSignature, null]);
        Invoke(m.LoadCheckAtModel, ctx, [info]);
        var header = m.LoadHeader.GetValue(ctx)!;
        var written = (uint)m.HeaderModelVerWritten.GetValue(header)!;
        var bytes = (long)m.HeaderCbModel.GetValue(header)!;
        if ((written & ~flag) < version.VersionReadableBack)
        {
            throw new FormatException($"The model entry '{EntryName(ctx, "Model.key")}' has format version {written & ~flag} of " +
                $"'{version.LoaderSignature}'; this version of the suite reads versions {version.VersionReadableBack} to {version.VersionWritten}.");
        }
        return ((BinaryReader)m.LoadReader.GetValue(ctx)!, written & ~flag, (written & flag) != 0, bytes);
    }

    /// <summary>Whether the model being loaded was written with integrity blocks (readable before <see cref="BeginLoad"/>).</summary>
    public static bool HasIntegrityFlag(object ctx)
    {
        var m = s_members.Value;
        CheckLoadContext(ctx);
        var header = m.LoadHeader.GetValue(ctx)!;
        return ((uint)m.HeaderModelVerWritten.GetValue(header)! & ModelVersion.IntegrityFlag) != 0;
    }

    /// <summary>The zip entry path of stream <paramref name="name"/> of the model being loaded (for error messages).</summary>
    public static string EntryName(object ctx, string name)
    {
        var dir = (string?)s_members.Value.LoadDirectory.GetValue(ctx);
        return (string.IsNullOrEmpty(dir) ? name : dir + "/" + name).Replace('\\', '/');
    }

    /// <summary>
    /// Checks the ML.NET model header of every <c>Model.key</c> entry of a model zip (its size, signatures and the
    /// extent it records; ML.NET's layout: 256-byte header, tail at <c>FpTail</c>, end at <c>FpLim</c>) and returns
    /// a description of the first damaged one, or null. Used to name the entry when ML.NET rejects a header.
    /// </summary>
    public static string? FindDamagedModelHeader(Stream zip)
    {
        const ulong signature = 0x4C45444F4D004C4DUL, tail = 0x4D4C004D4F44454CUL;
        using var archive = new System.IO.Compression.ZipArchive(zip, System.IO.Compression.ZipArchiveMode.Read, leaveOpen: true);
        foreach (var entry in archive.Entries)
        {
            if (entry.Name != "Model.key")
                continue;
            using var ms = new MemoryStream();
            using (var s = entry.Open())
                s.CopyTo(ms);
            var b = ms.ToArray();
            if (b.Length < 256)
                return $"The model entry '{entry.FullName}' is truncated ({b.Length} bytes, shorter than its 256-byte header); the file is incomplete or damaged.";
            long fpTail = BitConverter.ToInt64(b, 0x80), fpLim = BitConverter.ToInt64(b, 0x88);
            if (BitConverter.ToUInt64(b, 0) != signature || fpTail < 256 || fpLim != fpTail + 8)
                return $"The model entry '{entry.FullName}' is corrupt: its header is damaged; the file was modified or damaged.";
            if (fpLim > b.Length)
                return $"The model entry '{entry.FullName}' is truncated ({b.Length} of {fpLim} bytes); the file is incomplete or damaged.";
            if (BitConverter.ToUInt64(b, (int)fpTail) != tail)
                return $"The model entry '{entry.FullName}' is corrupt: its tail is damaged; the file was modified or damaged.";
        }
        return null;
    }

    private static void CheckLoadContext(object ctx)
    {
        if (!s_members.Value.ModelLoadContext.IsInstanceOfType(ctx))
            throw new ArgumentException("Expected an ML.NET ModelLoadContext.", nameof(ctx));
    }

    /// <summary>Reads a named binary stream saved with <see cref="SaveBinaryStream"/>; false if absent.</summary>
    public static bool TryLoadBinaryStream(object ctx, string name, Action<BinaryReader> read)
        => (bool)Invoke(s_members.Value.LoadTryLoadBinaryStream, ctx, [name, read])!;

    private static object? Invoke(MethodInfo method, object? target, object?[] args)
    {
        try
        {
            return method.Invoke(target, args);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
            throw;
        }
    }

    // ---------------------------------------------------------------- the loader bridge

    /// <summary>
    /// Registers every persistent suite component with the environment's component catalog so that
    /// <c>mlContext.Model.Load</c> finds its loader. Builds one dynamic bridge assembly per process.
    /// </summary>
    public static void RegisterLoaders(IHostEnvironment env)
    {
        var bridge = GetOrBuildBridge();
        env.ComponentCatalog.RegisterAssembly(bridge);
    }

    private static Assembly GetOrBuildBridge()
    {
        lock (s_bridgeLock)
        {
            if (s_bridge is not null)
                return s_bridge;
            var m = s_members.Value;
            foreach (var type in FindPersistentComponents())
            {
                var attr = type.GetCustomAttribute<ComponentModelAttribute>()!;
                if (s_loaders.TryGetValue(attr.LoaderSignature, out var other) && other != type)
                    throw new InvalidOperationException($"Loader signature '{attr.LoaderSignature}' is claimed by both {other.FullName} and {type.FullName}.");
                s_loaders[attr.LoaderSignature] = type;
            }

            var name = new AssemblyName("Components.MLNetBridge");
            var asm = AssemblyBuilder.DefineDynamicAssembly(name, AssemblyBuilderAccess.Run);
            var module = asm.DefineDynamicModule(name.Name!);

            // [IgnoresAccessChecksTo] lets the emitted code name the internal ModelLoadContext type and call this internal class.
            var ignores = module.DefineType("System.Runtime.CompilerServices.IgnoresAccessChecksToAttribute",
                TypeAttributes.Public | TypeAttributes.Sealed | TypeAttributes.Class, typeof(Attribute));
            var ignoresCtor = ignores.DefineConstructor(MethodAttributes.Public, CallingConventions.Standard, [typeof(string)]);
            var il0 = ignoresCtor.GetILGenerator();
            il0.Emit(OpCodes.Ldarg_0);
            il0.Emit(OpCodes.Call, typeof(Attribute).GetConstructor(BindingFlags.NonPublic | BindingFlags.Instance, Type.EmptyTypes)!);
            il0.Emit(OpCodes.Ret);
            var ignoresType = ignores.CreateType();
            asm.SetCustomAttribute(new CustomAttributeBuilder(ignoresType.GetConstructor([typeof(string)])!, ["Microsoft.ML.Core"]));
            asm.SetCustomAttribute(new CustomAttributeBuilder(ignoresType.GetConstructor([typeof(string)])!, [typeof(MlNetShim).Assembly.GetName().Name!]));

            var dispatch = typeof(MlNetShim).GetMethod(nameof(LoadComponent), BindingFlags.Public | BindingFlags.Static)!;
            int i = 0;
            foreach (var (signature, type) in s_loaders)
            {
                var loader = module.DefineType($"Components.MLNetBridge.Loader{i++}", TypeAttributes.Public | TypeAttributes.Sealed | TypeAttributes.Abstract | TypeAttributes.Class);
                var create = loader.DefineMethod("Create", MethodAttributes.Public | MethodAttributes.Static, type, [typeof(IHostEnvironment), m.ModelLoadContext]);
                var il = create.GetILGenerator();
                il.Emit(OpCodes.Ldarg_0);
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Ldstr, signature);
                il.Emit(OpCodes.Call, dispatch);
                il.Emit(OpCodes.Castclass, type);
                il.Emit(OpCodes.Ret);
                var loaderType = loader.CreateType();
                asm.SetCustomAttribute(new CustomAttributeBuilder(m.LoadableClassCtor,
                    [type, loaderType, null, m.SignatureLoadModel, type.Name, new[] { signature }]));
            }

            AppDomain.CurrentDomain.AssemblyResolve += (_, args) =>
                args.Name is not null && new AssemblyName(args.Name).Name == name.Name ? s_bridge : null;
            s_bridge = asm;
            return asm;
        }
    }

    /// <summary>Called by the emitted loaders: dispatches to the component's static load method.</summary>
    public static object LoadComponent(IHostEnvironment env, object ctx, string loaderSignature)
    {
        Type type;
        lock (s_bridgeLock)
        {
            if (!s_loaders.TryGetValue(loaderSignature, out type!))
                throw new InvalidOperationException($"No suite component is registered for loader signature '{loaderSignature}'.");
        }
        var attr = type.GetCustomAttribute<ComponentModelAttribute>()!;
        var load = type.GetMethod(attr.LoadMethodName, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static, [typeof(IHostEnvironment), typeof(ModelLoadReader)])
            ?? throw new InvalidOperationException($"{type.FullName} has no static {attr.LoadMethodName}(IHostEnvironment, ModelLoadReader) method.");
        return Invoke(load, null!, [env, new ModelLoadReader(env, ctx)])!;
    }

    private static IEnumerable<Type> FindPersistentComponents()
    {
        // Load the suite's assemblies that sit beside the app, so a fresh process can load a model before touching them.
        var baseDir = AppContext.BaseDirectory;
        if (Directory.Exists(baseDir))
        {
            foreach (var file in Directory.EnumerateFiles(baseDir, "Components.*.dll"))
            {
                try
                {
                    var an = AssemblyName.GetAssemblyName(file);
                    if (!AppDomain.CurrentDomain.GetAssemblies().Any(a => AssemblyName.ReferenceMatchesDefinition(a.GetName(), an)))
                        Assembly.Load(an);
                }
                catch (BadImageFormatException)
                {
                }
                catch (FileLoadException)
                {
                }
            }
        }
        var core = typeof(MlNetShim).Assembly.GetName().Name;
        foreach (var asm in AppDomain.CurrentDomain.GetAssemblies())
        {
            if (asm.IsDynamic)
                continue;
            if (asm != typeof(MlNetShim).Assembly && !asm.GetReferencedAssemblies().Any(r => r.Name == core))
                continue;
            Type[] types;
            try
            {
                types = asm.GetTypes();
            }
            catch (ReflectionTypeLoadException ex)
            {
                types = ex.Types.Where(t => t is not null).ToArray()!;
            }
            foreach (var t in types)
            {
                if (t.GetCustomAttribute<ComponentModelAttribute>(inherit: false) is not null)
                    yield return t;
            }
        }
    }

    // ---------------------------------------------------------------- trainer info

    private static readonly Lazy<ConstructorInfo> s_trainerInfoCtor = new(() =>
        typeof(TrainerInfo).GetConstructor(Any, [typeof(bool), typeof(bool), typeof(bool), typeof(bool), typeof(bool), typeof(bool)])
        ?? throw new NotSupportedException(
            $"The Components suite supports Microsoft.ML {SupportedVersion}; the loaded Microsoft.ML ({LoadedVersion}) lacks the internal " +
            $"constructor TrainerInfo(bool normalization, bool calibration, bool caching, bool supportValid, bool supportIncrementalTrain, " +
            $"bool supportTest) that suite trainers need for ITrainerEstimator.Info. Reference Microsoft.ML {SupportedVersion}."),
        LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// A <see cref="TrainerInfo"/> (its constructor is internal in ML.NET 5.0.1). Calibration, incremental training and
    /// test sets are not supported by suite trainers, so those flags are false.
    /// </summary>
    /// <param name="normalization">Whether the trainer needs normalized features.</param>
    /// <param name="caching">Whether the trainer benefits from a cached view of the data.</param>
    /// <param name="supportsValidation">Whether the trainer uses a validation set.</param>
    public static TrainerInfo CreateTrainerInfo(bool normalization, bool caching, bool supportsValidation)
        => (TrainerInfo)s_trainerInfoCtor.Value.Invoke([normalization, false, caching, supportsValidation, false, false]);
}
