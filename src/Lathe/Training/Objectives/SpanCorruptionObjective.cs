using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Training.Objectives;

/// <summary>T5's span corruption (Raffel et al. 2020 §3.1.4): each row's T + 1 corpus tokens lose ~15% of their
/// tokens in spans of mean length 3, each span replaced by a sentinel in the encoder input; the decoder predicts the
/// sentinels and the dropped spans (<see cref="SpanCorruption"/>), drawn from the batch seed. Loss = mean decoder
/// cross-entropy.</summary>
public sealed class SpanCorruptionObjective : ITrainingObjective
{
    SpanCorruption? _corruption;
    int[] _row = [], _encoderIds = [], _decoderIds = [], _targets = [];   // reused from batch to batch

    public string Name => "span-corruption";

    /// <summary>Per corpus token of a span-corrupted row: encoder work on its ~0.9·T inputs, decoder and lm_head work on its
    /// ~0.2·T targets.</summary>
    public double ForwardFlopsPerToken(LanguageModel model, int T)
    {
        var t5 = (T5Model)model;
        var sc = new SpanCorruption(Math.Max(T + 1, 2), t5.Config.VocabSize, t5.Config.EosTokenId, t5.Config.DecoderStartTokenId);
        return t5.ForwardFlops(sc.EncoderLength, sc.DecoderLength) / T;
    }

    public Tensor Loss(LanguageModel model, in TrainingBatch batch)
    {
        var t5 = (T5Model)model;
        var c = t5.Config;
        int B = batch.B, T = batch.T, L = T + 1;
        if (_corruption is null || _corruption.Length != L)
        {
            _corruption = new SpanCorruption(L, c.VocabSize, c.EosTokenId, c.DecoderStartTokenId);
            _row = new int[L];
        }
        var sc = _corruption;
        int Te = sc.EncoderLength, Td = sc.DecoderLength;
        if (_encoderIds.Length != B * Te) _encoderIds = new int[B * Te];
        if (_decoderIds.Length != B * Td) { _decoderIds = new int[B * Td]; _targets = new int[B * Td]; }
        var rng = new SeededDraws(batch.Seed);
        for (int b = 0; b < B; b++)
        {
            batch.Inputs.Slice(b * T, T).CopyTo(_row);
            _row[T] = batch.Targets[b * T + T - 1];
            sc.Apply(_row, ref rng, _encoderIds.AsSpan(b * Te, Te), _decoderIds.AsSpan(b * Td, Td), _targets.AsSpan(b * Td, Td));
        }
        var logits = t5.Logits(_encoderIds, default, B, Te, _decoderIds, Td);     // (B·Td, V)
        return Ops.CrossEntropy(logits, _targets);
    }
}
