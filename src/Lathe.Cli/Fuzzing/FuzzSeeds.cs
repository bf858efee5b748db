using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors.Autograd;
using Lathe.Tokenizers;

namespace Lathe.Cli.Fuzzing;

/// <summary>What the targets' seeds are made from: a few paragraphs, a byte-level BPE trained on them, tiny GPT-2 and
/// Llama configurations, checkpoint folders written by <see cref="Checkpoint.SaveModel"/>, and the "use" every
/// model-loading target ends with (one forward of a couple of tokens). Everything is deterministic.</summary>
internal static class FuzzSeeds
{
    public const string Text =
        "The lighthouse keeper wrote the weather into the log twice a day, wind first and then the sea. " +
        "In March the gales came from the west; in June the fog sat on the water for a week. " +
        "Ships passed at night with their lamps low, and the keeper counted them: seven, eight, eleven. " +
        "When the oil ran short he trimmed the wick and waited for the supply boat, which came late, as always.\n" +
        "Numbers matter to a keeper: 1852 metres to a nautical mile, 24 hours to a watch, 3 whistles for danger. " +
        "Café, naïve, straße and 東京 appear in the visitors' book, with <|endoftext|> scribbled by a child.\n";

    public static readonly string[] Specials = ["<|endoftext|>", "<s>", "<|im_end|>"];

    public static Tokenizer Bpe() => new BpeTrainer(300, Specials, minFrequency: 1).Train([Text, Text]);

    public static ModelConfig Gpt2 => new() { ModelType = "gpt2", VocabSize = 320, MaxPositions = 32, Embd = 32, Layers = 1, Heads = 2, KvHeads = 2, Intermediate = 64 };

    public static ModelConfig Llama => new() { ModelType = "llama", VocabSize = 320, MaxPositions = 32, Embd = 32, Layers = 2, Heads = 4, KvHeads = 2, Intermediate = 64 };

    /// <summary>A checkpoint folder (config.json, model.safetensors, tokenizer.json) in <paramref name="dir"/>.</summary>
    public static string WriteCheckpoint(string dir, ModelConfig config, Tokenizer tokenizer, ulong seed = 7)
    {
        Directory.CreateDirectory(dir);
        TokenizerJson.Save(tokenizer, Path.Combine(dir, Checkpoint.TokenizerFile));
        using var model = LanguageModel.Create(config, seed);
        Checkpoint.SaveModel(dir, model, null);
        return dir;
    }

    /// <summary>Every file of a folder, by path relative to it.</summary>
    public static Dictionary<string, byte[]> ReadFolder(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .ToDictionary(f => Path.GetRelativePath(dir, f), File.ReadAllBytes);

    /// <summary>What a user's first command does with a loaded model: encode a prompt the way generate does and run
    /// one forward of its first few tokens (any architecture that decodes; an encoder stops at loading).</summary>
    public static void Forward(LoadedModel loaded)
    {
        var ids = loaded.Encode("The keeper wrote");
        if (ids.Length == 0) ids = [0];
        if (loaded.Model is not CausalLM lm) return;
        int T = Math.Min(ids.Length, Math.Min(4, lm.Config.MaxPositions));
        using var tape = new Tape();
        using (tape.Activate())
        using (Tape.NoGrad())
            _ = lm.Logits(ids.AsSpan(0, T), 1, T).ToArray();   // the tape owns and frees the activations
    }
}
