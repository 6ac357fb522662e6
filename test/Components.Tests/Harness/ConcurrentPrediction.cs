using Microsoft.ML;

namespace Components.Tests.Harness;

/// <summary>Runs PredictionEngines on several threads at once, for the "concurrent = sequential" checks of models that own a module.</summary>
public static class ConcurrentPrediction
{
    /// <summary>
    /// Predicts every input with one engine on this thread, then with <paramref name="threads"/> engines on as many
    /// threads at once, each predicting every input in the same order (so that models whose randomness is keyed by
    /// the engine's row position see the same positions); returns the sequential results and each thread's, as read
    /// by <paramref name="read"/>.
    /// </summary>
    public static (T[] Sequential, T[][] Concurrent) Run<TIn, TOut, T>(MLContext ml, ITransformer model, IReadOnlyList<TIn> inputs,
        Func<TOut, T> read, int threads = 4)
        where TIn : class
        where TOut : class, new()
    {
        var engine = ml.Model.CreatePredictionEngine<TIn, TOut>(model);
        var sequential = inputs.Select(i => read(engine.Predict(i))).ToArray();
        var concurrent = new T[threads][];
        var errors = new System.Collections.Concurrent.ConcurrentBag<Exception>();
        using var start = new Barrier(threads);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            try
            {
                var own = ml.Model.CreatePredictionEngine<TIn, TOut>(model);
                start.SignalAndWait();
                concurrent[t] = inputs.Select(i => read(own.Predict(i))).ToArray();
            }
            catch (Exception ex)
            {
                errors.Add(ex);
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        if (!errors.IsEmpty)
            throw new AggregateException(errors);
        return (sequential, concurrent);
    }
}
