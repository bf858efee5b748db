using Lathe.Training.Objectives;
using Lathe.Data;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tests.Models;
using Lathe.Tokenizers;
using Lathe.Training;

namespace Lathe.Tests.Training;

/// <summary>The shard batch source (windows, epochs, exact resume through data_position) and what pretrain takes
/// from a data folder: vocabulary size, BERT / T5 special tokens added to the tokenizer, and the bad-input lines.</summary>
public class PretrainSetupTests
{
    static int[] Tokens(int n, int seed, int vocab)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => rng.Next(vocab)).ToArray();
    }

    [Fact]
    public void Shard_batches_are_windows_of_the_shards_and_a_saved_position_resumes_exactly()
    {
        string dir = CheckpointTests.TempDir();
        int[] a = Tokens(170, 1, 500), b = Tokens(95, 2, 500);
        TokenShards.Write(Path.Combine(dir, "c_train_000000.bin"), a);
        TokenShards.Write(Path.Combine(dir, "c_train_000001.bin"), b);
        TokenShards.Write(Path.Combine(dir, "c_val_000000.bin"), Tokens(40, 3, 500));
        var folder = ShardFolder.Open(dir);
        const int B = 3, T = 8;
        // Oracle: all (input, target) rows a plain walk over each shard yields, window k = tokens [kT, kT+T+1).
        var windows = new List<string>();
        foreach (var s in new[] { a, b })
            for (int k = 0; k < (s.Length - 1) / T; k++) windows.Add(string.Join(',', s.Skip(k * T).Take(T + 1)));
        using var source = new ShardBatchSource(folder, B, T, seed: 4);
        Assert.Equal(windows.Count, source.WindowCount);
        var inputs = new int[B * T];
        var targets = new int[B * T];
        var epoch = new List<string>();
        int batches = windows.Count / B;   // 32 windows → 10 whole batches, the 11th crosses into epoch 1
        for (int i = 0; i < batches; i++)
        {
            source.Next(inputs, targets, B, T);
            for (int r = 0; r < B; r++)
            {
                Assert.Equal(inputs.AsSpan(r * T + 1, T - 1).ToArray(), targets.AsSpan(r * T, T - 1).ToArray());   // targets = inputs shifted by one
                epoch.Add(string.Join(',', inputs.AsSpan(r * T, T).ToArray().Append(targets[r * T + T - 1])));
            }
        }
        Assert.Equal(epoch.Count, epoch.Distinct().Count());
        Assert.All(epoch, w => Assert.Contains(w, windows));
        // Save the position mid-epoch-crossing, continue, then replay from the saved position in a fresh source.
        source.Next(inputs, targets, B, T);
        long saved = source.Position;
        Assert.True(saved > source.WindowCount);   // epoch 1: the position packs (epoch, window)
        var expect = new List<int[]>();
        for (int i = 0; i < 15; i++) { source.Next(inputs, targets, B, T); expect.Add([.. inputs, .. targets]); }
        using var resumed = new ShardBatchSource(folder, B, T, seed: 4) { Position = saved };
        for (int i = 0; i < 15; i++) { resumed.Next(inputs, targets, B, T); Assert.Equal(expect[i], inputs.Concat(targets).ToArray()); }
    }

    [Fact]
    public void A_run_on_shards_resumes_bit_for_bit()
    {
        string dir = CheckpointTests.TempDir();
        var rng = new Lathe.Tensors.Philox(3);
        var corpus = new int[3000];
        for (int i = 0; i < corpus.Length; i++) corpus[i] = rng.NextInt(8) == 0 ? rng.NextInt(64) : (i * 7 + i / 5) % 23;
        TokenShards.Write(Path.Combine(dir, "c_train_000000.bin"), corpus.AsSpan(0, 1400));
        TokenShards.Write(Path.Combine(dir, "c_train_000001.bin"), corpus.AsSpan(1400));
        var folder = ShardFolder.Open(dir);
        var config = new ModelConfig { ModelType = "gpt2", VocabSize = 64, MaxPositions = 16, Embd = 32, Layers = 1, Heads = 2, KvHeads = 2, Intermediate = 64 };
        var options = new TrainingOptions { Steps = 12, BatchSize = 4, BlockSize = 16, GradAccum = 2, LearningRate = 3e-3f, WarmupSteps = 2, EvalEvery = 0, CheckpointEvery = 0, Seed = 5 };
        ExactResume.Check(seed => CausalLM.Create(config, seed), () => new ShardBatchSource(folder, 4, 16, options.Seed),
            (model, source, run) => new Trainer(model, options, source, null, run, null), n: 6);
    }

    // A data folder made the way `data prepare` makes it: shards, tokenizer.json and manifest.json.
    static (string Dir, Tokenizer Tokenizer) PreparedFolder()
    {
        string dir = CheckpointTests.TempDir();
        string text = string.Concat(Enumerable.Repeat("Call me Ishmael. Some years ago, never mind how long precisely, I thought I would sail about. ", 30));
        var tokenizer = new BpeTrainer(300).Train([text]);
        var docs = Enumerable.Range(0, 30).Select(i => new Document($"d{i}", $"{i} " + text[(i * 7)..]));
        CorpusPipeline.Prepare(docs, tokenizer, dir, new PrepareOptions
        {
            Threads = 1, NearDedup = false, ExactDedup = false, ValidationFraction = 0.1, Cleaning = CleaningOptions.Default with { QualityFilter = false },
        });
        return (dir, tokenizer);
    }

    [Fact]
    public void A_preset_takes_the_tokenizers_size_and_an_explicit_vocab_size_is_kept_only_when_large_enough()
    {
        var (dir, tokenizer) = PreparedFolder();
        var preset = ModelConfig.FromPresetOrFile("llama-tiny");
        Assert.NotEqual(tokenizer.VocabSize, preset.VocabSize);
        var setup = PretrainSetup.ForNewRun(preset, dir, vocabSizeGiven: false);
        Assert.Equal(tokenizer.VocabSize, setup.Config.VocabSize);
        Assert.Equal(tokenizer.VocabSize, setup.Tokenizer!.VocabSize);
        Assert.Equal(tokenizer.VocabSize + 64, PretrainSetup.ForNewRun(preset with { VocabSize = tokenizer.VocabSize + 64 }, dir, vocabSizeGiven: true).Config.VocabSize);
        var e = Assert.Throws<InvalidDataException>(() => PretrainSetup.ForNewRun(preset with { VocabSize = 100 }, dir, vocabSizeGiven: true));
        Assert.Equal($"config: vocab_size 100 is smaller than the tokenizer's {tokenizer.VocabSize} ids ({Path.Combine(dir, "tokenizer.json")})", e.Message);
        // The validation tokens evaluation needs: EvalBatches·B·T + 1 at most, the first ones of the val shard.
        var options = new TrainingOptions { BatchSize = 2, BlockSize = 8, EvalBatches = 3 };
        var val = setup.ReadValidation(options);
        Assert.Equal(TokenShards.Read(setup.Data.Validation[0].Path)[..val.Length], val);
        Assert.Equal(Math.Min(3 * 2 * 8 + 1, setup.Data.ValidationTokens), val.Length);
    }

    [Fact]
    public void Bert_specials_are_added_to_the_tokenizer_and_the_config_takes_their_ids()
    {
        var (dir, tokenizer) = PreparedFolder();
        int V = tokenizer.VocabSize;
        var setup = PretrainSetup.ForNewRun(ModelConfig.FromPresetOrFile("bert-tiny"), dir, vocabSizeGiven: false);
        var c = setup.Config;
        Assert.Equal((V + 4, V, V + 1, V + 2, V + 3), (c.VocabSize, c.ClsId, c.SepId, c.MaskId, c.PadId));
        // The ids survive tokenizer.json: the saved tokenizer encodes "[MASK]" as the config's mask id.
        string run = CheckpointTests.TempDir();
        var saved = TokenizerJson.LoadAny(setup.WriteTokenizer(run)!);
        Assert.Equal(V + 4, saved.VocabSize);
        Assert.Equal([c.ClsId], saved.Encode("[CLS]"));
        Assert.Equal([c.MaskId], saved.Encode("[MASK]"));
        Assert.Equal(tokenizer.Encode("Call me Ishmael."), saved.Encode("Call me Ishmael."));
        // The config round-trips through config.json with the same ids.
        var parsed = ModelConfig.Parse(c.ToJson());
        Assert.Equal((c.VocabSize, c.ClsId, c.SepId, c.MaskId, c.PadId), (parsed.VocabSize, parsed.ClsId, parsed.SepId, parsed.MaskId, parsed.PadId));
        // An explicit id that disagrees with the tokenizer is refused.
        var e = Assert.Throws<InvalidDataException>(() => PretrainSetup.ForNewRun(ModelConfig.FromPresetOrFile("bert-tiny") with { MaskTokenId = 5 }, dir, false));
        Assert.Equal($"config: mask_token_id 5 disagrees with [MASK] = {V + 2} in {Path.Combine(dir, "tokenizer.json")}", e.Message);
    }

    [Fact]
    public void T5_pad_eos_and_sentinels_are_added_where_span_corruption_reads_them()
    {
        var (dir, tokenizer) = PreparedFolder();
        int V = tokenizer.VocabSize;
        var setup = PretrainSetup.ForNewRun(ModelConfig.FromPresetOrFile("t5-tiny"), dir, vocabSizeGiven: false);
        var c = setup.Config;
        Assert.Equal(V + 2 + 100, c.VocabSize);
        Assert.Equal((V, V + 1), (c.DecoderStartTokenId, c.EosTokenId));   // <pad> starts the decoder (HF), </s> ends
        var t = setup.Tokenizer!;
        var corruption = new SpanCorruption(c.MaxPositions + 1, c.VocabSize, c.EosTokenId, c.DecoderStartTokenId);
        for (int n = 0; n < 100; n++) Assert.Equal(corruption.Sentinel(n), t.SpecialId($"<extra_id_{n}>"));
        Assert.Equal(c.VocabSize, t.VocabSize);
        Assert.Contains("\"pad_token_id\": " + V, c.ToJson());
        // A tokenizer.json that already has the sentinels (saved with them) is taken as it is.
        string again = CheckpointTests.TempDir();
        foreach (var f in Directory.GetFiles(dir)) File.Copy(f, Path.Combine(again, Path.GetFileName(f)));
        t.Save(Path.Combine(again, "tokenizer.json"));
        File.Delete(Path.Combine(again, ShardManifest.FileName));
        var second = PretrainSetup.ForNewRun(ModelConfig.FromPresetOrFile("t5-tiny"), again, vocabSizeGiven: false);
        Assert.Equal((c.VocabSize, c.EosTokenId, c.DecoderStartTokenId), (second.Config.VocabSize, second.Config.EosTokenId, second.Config.DecoderStartTokenId));
    }

    [Fact]
    public void Bad_folders_are_one_line_errors_naming_the_file()
    {
        // No tokenizer.json and no vocab_size given.
        string bare = CheckpointTests.TempDir();
        TokenShards.Write(Path.Combine(bare, "x_train_000.bin"), Tokens(200, 1, 50));
        var e = Assert.Throws<InvalidDataException>(() => PretrainSetup.ForNewRun(ModelConfig.FromPresetOrFile("gpt2-tiny"), bare, vocabSizeGiven: false));
        Assert.StartsWith($"data: {Path.Combine(bare, "tokenizer.json")} is missing, so the vocabulary size is unknown", e.Message);
        Assert.Equal(50, Math.Min(50, PretrainSetup.ForNewRun(ModelConfig.FromPresetOrFile("gpt2-tiny") with { VocabSize = 50 }, bare, vocabSizeGiven: true).Config.VocabSize));
        e = Assert.Throws<InvalidDataException>(() => PretrainSetup.ForNewRun(ModelConfig.FromPresetOrFile("gpt2-tiny") with { VocabSize = 40 }, bare, vocabSizeGiven: true));
        int max = TokenShards.Read(Path.Combine(bare, "x_train_000.bin")).Max();
        Assert.Equal($"data: {Path.Combine(bare, "x_train_000.bin")}: token id {max} is outside vocab_size 40 (40 ids)", e.Message);

        // A shard id at or above the tokenizer's size (shards and tokenizer.json put together by hand, no manifest).
        var (dir, tokenizer) = PreparedFolder();
        File.Delete(Path.Combine(dir, ShardManifest.FileName));
        string bad = Path.Combine(dir, "hand_train_000.bin");
        TokenShards.Write(bad, [1, 2, tokenizer.VocabSize + 5, 3]);
        e = Assert.Throws<InvalidDataException>(() => PretrainSetup.ForNewRun(ModelConfig.FromPresetOrFile("gpt2-tiny"), dir, vocabSizeGiven: false));
        Assert.Equal($"data: {bad}: token id {tokenizer.VocabSize + 5} is outside the tokenizer {Path.Combine(dir, "tokenizer.json")} ({tokenizer.VocabSize} ids)", e.Message);
    }
}
