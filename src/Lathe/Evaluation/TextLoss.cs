using System.Text;
using Lathe.Inference;
using Lathe.Training;
using Lathe.Distributed;

namespace Lathe.Evaluation;

/// <summary>How well a model predicts a text: mean next-token loss (nats) over the predicted tokens and bits per byte
/// over the bytes they cover, whatever the model was loaded from (checkpoint, Hugging Face folder, GGUF with its weights
/// kept quantized).</summary>
/// <param name="Tokens">Predicted tokens (every token but the first, which is only context).</param>
/// <param name="Loss">Mean loss in nats per predicted token.</param>
/// <param name="BitsPerByte">Total nats / ln 2 / the UTF-8 bytes of the predicted tokens: comparable across tokenizers.</param>
public sealed record TextLoss(long Tokens, double Loss, double BitsPerByte)
{
    /// <summary>exp(<see cref="Loss"/>).</summary>
    public double Perplexity => Math.Exp(Loss);

    /// <summary>Scores <paramref name="utf8"/> — for a decoder encoded as it encodes a prompt without parsing special-token
    /// text (<see cref="LoadedModel.Encode"/>; BOS first when the source asks), for an encoder in the shard form its
    /// pre-training objective read — in windows of <paramref name="blockSize"/>
    /// tokens (0 = the model's context), <paramref name="batchSize"/> windows per forward pass.</summary>
    /// <exception cref="ArgumentException">The text has fewer than two tokens, or a size is out of range.</exception>
    /// <remarks>With a <paramref name="world"/> of K ranks (each calling this with the same text) batch b is scored by
    /// rank b mod K; the batches' sums are gathered and added in batch order, as one process adds them, so the result is
    /// one process's bit for bit.</remarks>
    public static TextLoss Measure(LoadedModel model, byte[] utf8, int batchSize, int blockSize = 0, Communicator? world = null)
    {
        if (batchSize <= 0) throw new ArgumentException($"batch size {batchSize} must be positive.");
        var lm = model.Model;
        int T = blockSize > 0 ? blockSize : lm.Config.MaxPositions;
        try { lm.Config.ValidateContext(T); }
        catch (InvalidDataException e) { throw new ArgumentException(e.Message); }
        string text = Encoding.UTF8.GetString(utf8);
        int[] ids;
        if (lm is Models.CausalLM) ids = model.Encode(text, parseSpecial: false);
        else
        {
            // An encoder's objective builds its own [CLS]/[SEP]/sentinel framing from corpus rows: score the text in the
            // form data prepare writes into shards (no post-processor template), which is what pre-training read.
            var list = new List<int>();
            model.Tokenizer.Encode(text, list);
            ids = list.ToArray();
        }
        if (ids.Length < 2) throw new ArgumentException($"the text has {ids.Length} token(s); scoring needs at least two.");
        world ??= SingleProcess.Instance;
        var scored = new List<(int Index, double Value)>();
        var (sum, count) = LossEvaluator.Evaluate(lm, ids, batchSize, Math.Min(T, ids.Length - 1), rank: world.Rank, ranks: world.Size,
            onBatch: world.Size > 1 ? (b, s) => scored.Add((b, s)) : null);
        if (world.Size > 1)
        {
            Span<double> tokens = [count];
            world.SumInRankOrder(tokens);
            count = (long)tokens[0];
            sum = world.SumInIndexOrder(scored);   // batch order: the single process's additions
        }
        // The first token is context only: its bytes (none for BOS) are not predicted.
        long bytes = Math.Max(1, utf8.Length - model.Tokenizer.DecodeBytes([ids[0]]).Length);
        return new TextLoss(count, sum / count, sum / Math.Log(2) / bytes);
    }
}
