using Components.Core.Persistence;
using Components.Core.Modules;
using Microsoft.ML.Runtime;

namespace Components.Trainers.NeuralNetwork;

/// <summary>The part of a saved neural-network model that both model kinds share.</summary>
internal sealed record NeuralNetworkModelState(string FeatureColumnName, string ScoreColumnName, int InferenceBatchSize,
    NeuralNetworkArchitecture Architecture, IReadOnlyList<NeuralNetworkEpoch> History, int BestEpoch)
{
    // *** Binary format *** (shared prefix of NNMCLASS, NNREGRES and NNLAYACT models)
    // string: feature column name
    // string: score column name (LayerActivations: unused, empty)
    // int: inference batch size
    // architecture: see NeuralNetworkArchitecture.Write
    // int: best epoch
    // int: number of epochs in the history, then per epoch:
    //   int epoch, double training loss, double training metric, double validation loss (NaN if none), double validation metric (NaN if none)
    // Separate stream "TSModel": the module's TorchSharp state dictionary (Module.save).
    public void Write(BinaryWriter w)
    {
        w.Write(FeatureColumnName);
        w.Write(ScoreColumnName);
        w.Write(InferenceBatchSize);
        Architecture.Write(w);
        w.Write(BestEpoch);
        w.Write(History.Count);
        foreach (var e in History)
        {
            w.Write(e.Epoch);
            w.Write(e.TrainingLoss);
            w.Write(e.TrainingMetric);
            w.Write(e.ValidationLoss ?? double.NaN);
            w.Write(e.ValidationMetric ?? double.NaN);
        }
    }

    public static NeuralNetworkModelState Read(BinaryReader r)
    {
        var feature = r.ReadString();
        var score = r.ReadString();
        int batch = r.ReadInt32();
        BinaryFormat.CheckDecode(batch > 0, "inference batch size");
        var arch = NeuralNetworkArchitecture.Read(r);
        int best = r.ReadInt32();
        int count = r.ReadInt32();
        BinaryFormat.CheckDecode(count >= 0 && count <= 1_000_000 && best >= 0 && best <= count, "training history");
        var history = new NeuralNetworkEpoch[count];
        for (int i = 0; i < count; i++)
        {
            int epoch = r.ReadInt32();
            double tl = r.ReadDouble(), tm = r.ReadDouble(), vl = r.ReadDouble(), vm = r.ReadDouble();
            history[i] = new NeuralNetworkEpoch(epoch, tl, tm, double.IsNaN(vl) ? null : vl, double.IsNaN(vm) ? null : vm);
        }
        return new NeuralNetworkModelState(feature, score, batch, arch, history, best);
    }

    /// <summary>Rebuilds the network from the architecture, loads the saved weights on the CPU, then moves it to the loading environment's device.</summary>
    public static TorchModuleOwner<NeuralNetworkModule> LoadModule(IHostEnvironment env, ModelLoadReader reader, NeuralNetworkArchitecture architecture)
        => TorchModuleOwner<NeuralNetworkModule>.Load(reader, NeuralNetworkModelParameters.Factory(architecture), TorchModuleOwner<NeuralNetworkModule>.LoadingDevice(env));

    /// <summary>The model parameters of a saved model: the network (see <see cref="LoadModule"/>) and the saved history.</summary>
    public static NeuralNetworkModelParameters LoadParameters(IHostEnvironment env, ModelLoadReader reader, NeuralNetworkModelState state)
        => new(LoadModule(env, reader, state.Architecture), state.History, state.BestEpoch);
}
