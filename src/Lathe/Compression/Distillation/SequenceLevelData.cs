using Lathe.Data;
using Lathe.Inference;
using Lathe.IO;
using Lathe.Models;
using Lathe.Training;

namespace Lathe.Compression.Distillation;

/// <summary>What sequence-level distillation generates: how many prompts, of how many tokens, continued by how many.</summary>
public sealed record SequenceLevelOptions(int Prompts, int PromptTokens, int GenerationTokens, float Temperature, ulong Seed);

/// <summary>Sequence-level knowledge distillation's data (Kim &amp; Rush 2016): the teacher continues prompts taken from
/// the training shards and the student then trains on the teacher's text with the ordinary next-token loss. The
/// generations are written as a data folder of llm.c token shards with tokenizer.json and manifest.json — what
/// `pretrain` reads too — and the original folder's validation tokens as its validation shard, so the student's
/// validation loss is measured on real text.</summary>
public static class SequenceLevelData
{
    /// <summary>Generates into <paramref name="outDir"/> (made fresh; files written atomically, the manifest last, so a
    /// folder with a manifest is complete). Prompts are the first <see cref="SequenceLevelOptions.Prompts"/> windows
    /// the seeded loader gives; each document is prompt + continuation (stopped early at the teacher's stop tokens)
    /// + end-of-text. Temperature 0 is greedy; otherwise prompt i samples with a seed derived from (seed, i), so the
    /// folder is the same on every run.</summary>
    public static void Write(LoadedModel teacher, ShardFolder data, string tokenizerPath, string outDir, SequenceLevelOptions options, IProgress<int>? progress = null)
    {
        var decoder = teacher.Model as CausalLM ?? throw new InvalidDataException($"--teacher {teacher.Source}: not a decoder");
        int context = decoder.Config.MaxPositions;
        if (options.Prompts < 1) throw new ArgumentException($"--prompts {options.Prompts} must be ≥ 1");
        if (options.PromptTokens < 1 || options.GenerationTokens < 1 || options.PromptTokens + options.GenerationTokens > context)
            throw new ArgumentException($"--prompt-tokens {options.PromptTokens} + --gen-tokens {options.GenerationTokens} must be ≥ 1 each and fit the teacher's context of {context}");
        int eot = data.Manifest?.EndOfTextId ?? -1;
        if (eot < 0) eot = teacher.EosId ?? -1;
        if (eot < 0) throw new InvalidDataException($"data: {data.Directory}: the manifest names no end_of_text_id to end each generated document with");
        using var source = new ShardBatchSource(data, 1, options.PromptTokens, options.Seed);
        var prompt = new int[options.PromptTokens];
        var ignored = new int[options.PromptTokens];
        var tokens = new List<int>(options.Prompts * (options.PromptTokens + options.GenerationTokens + 1));
        for (int i = 0; i < options.Prompts; i++)
        {
            source.Next(prompt, ignored, 1, options.PromptTokens);
            tokens.AddRange(prompt);
            // A fresh generator per prompt: nothing of one continuation can leak into the next.
            using var generator = new Generator(decoder);
            var sampling = new SamplingOptions { Temperature = options.Temperature, Seed = Hash64.Mix(options.Seed ^ Hash64.Mix((ulong)i + 1)) };
            tokens.AddRange(generator.Generate(prompt, options.GenerationTokens, sampling, teacher.StopIds));
            tokens.Add(eot);
            progress?.Report(i + 1);
        }
        Directory.CreateDirectory(outDir);
        const string train = "seqkd_train_000.bin", val = "seqkd_val_000.bin";
        TokenShards.Write(Path.Combine(outDir, train), tokens.ToArray());
        var shards = new List<ManifestShard> { new() { File = train, Split = "train", Tokens = tokens.Count } };
        int[] validation = data.ReadValidation(long.MaxValue);
        if (validation.Length > 0)
        {
            TokenShards.Write(Path.Combine(outDir, val), validation);
            shards.Add(new ManifestShard { File = val, Split = "val", Tokens = validation.Length });
        }
        string tokenizerCopy = Path.Combine(outDir, ShardFolder.TokenizerFile);
        AtomicFile.WriteAllBytes(tokenizerCopy, File.ReadAllBytes(tokenizerPath));
        (data.Manifest ?? new ShardManifest()).With(shards, ShardManifest.Fingerprint(tokenizerCopy), $"sequence-level distillation of {data.Directory} by {teacher.Source}").Save(outDir);
    }

    static ShardManifest With(this ShardManifest m, List<ManifestShard> shards, string sha, string source) => m with
    {
        Tokenizer = m.Tokenizer with { Sha256 = sha },
        Source = source,
        Shards = shards,
        TrainTokens = shards.Where(s => s.Split == "train").Sum(s => s.Tokens),
        ValidationTokens = shards.Where(s => s.Split == "val").Sum(s => s.Tokens),
    };
}
