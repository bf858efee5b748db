using Lathe.Inference;
using Lathe.Tensors.Autograd;

namespace Lathe.Server.Tests;

/// <summary>What the server's answers are checked against, computed without the server or the engine: ChatML prompts
/// written out by hand, log-softmax of the model's full (uncached) forward, and token ids recovered from the bytes a
/// log-probability entry reports.</summary>
internal static class Oracle
{
    /// <summary>ChatML as its specification writes it, ending with the assistant's opening.</summary>
    public static string ChatMl(params (string Role, string Content)[] messages) =>
        string.Concat(messages.Select(m => $"<|im_start|>{m.Role}\n{m.Content}<|im_end|>\n")) + "<|im_start|>assistant\n";

    /// <summary>log p(next token | ids[..t+1]) for every position t: rows (T, V), from one uncached forward in double.</summary>
    public static double[][] LogSoftmax(LoadedModel model, int[] ids)
    {
        var decoder = model.Decoder;
        int T = ids.Length, V = decoder.Config.VocabSize;
        float[] logits;
        using (var tape = new Tape())
        using (tape.Activate())
        using (Tape.NoGrad())
            logits = decoder.Logits(ids, 1, T).ToArray();   // (T, V)
        var rows = new double[T][];
        for (int t = 0; t < T; t++)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int v = 0; v < V; v++) max = Math.Max(max, logits[t * V + v]);
            for (int v = 0; v < V; v++) sum += Math.Exp(logits[t * V + v] - max);
            double logZ = max + Math.Log(sum);
            rows[t] = new double[V];
            for (int v = 0; v < V; v++) rows[t][v] = logits[t * V + v] - logZ;
        }
        return rows;
    }

    /// <summary>The token id whose bytes are <paramref name="bytes"/> (byte-level BPE: every token's bytes are unique; a
    /// special token's text is matched only when no ordinary token has it).</summary>
    public static int IdOfBytes(LoadedModel model, byte[] bytes)
    {
        int special = -1;
        for (int id = 0; id < model.Tokenizer.VocabSize; id++)
            if (model.Tokenizer.DecodeBytes([id]).AsSpan().SequenceEqual(bytes))
            {
                if (!IsSpecial(model, id)) return id;
                special = id;
            }
        return special >= 0 ? special : throw new Xunit.Sdk.XunitException($"no token has the bytes [{string.Join(",", bytes)}]");
    }

    static bool IsSpecial(LoadedModel model, int id) => model.Tokenizer.SpecialTokens.Any(s => s.Id == id);
}
