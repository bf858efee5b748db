using System.Text.Json;
using Lathe.Data;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tests.Cli;
using Lathe.Tokenizers;
using static Lathe.Tests.Compression.Pruning.PruningTestModels;

namespace Lathe.Tests.Compression.Pruning;

/// <summary>`lathe prune` as a user runs it: every method writes a loadable checkpoint of the shapes it reports, recovery
/// trains, pruned models export to GGUF and load back with the same logits, and bad input is one line with exit 2.</summary>
public class PruneCliTests
{
    const string Text = "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, " +
        "and nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the world.\n";

    // A tokenizer, a model of each architecture with its tokenizer.json, and a shard folder of ~3000 tokens.
    static void Prepare(LatheProcess lathe)
    {
        var tokenizer = new BpeTrainer(300, ["<|endoftext|>"], minFrequency: 1).Train([Text]);
        foreach (var (name, config) in new[] { ("gpt2", Gpt2 with { VocabSize = tokenizer.VocabSize }), ("llama", LlamaGqa with { VocabSize = tokenizer.VocabSize }) })
        {
            string dir = lathe.PathOf(name);
            using var model = Random(config, 41, scale: 0.2f);
            Directory.CreateDirectory(dir);
            TokenizerJson.Save(tokenizer, Path.Combine(dir, "tokenizer.json"));
            Checkpoint.SaveModel(dir, model, null);
        }
        string data = lathe.PathOf("data");
        Directory.CreateDirectory(data);
        var ids = tokenizer.Encode(string.Concat(Enumerable.Repeat(Text, 40)), allowSpecial: false).ToArray();
        TokenShard.Write(Path.Combine(data, "corpus_000000.bin"), ids);
        TokenShard.Write(Path.Combine(data, "corpus_val_000000.bin"), ids[..200]);
        TokenizerJson.Save(tokenizer, Path.Combine(data, "tokenizer.json"));
    }

    static JsonElement Ok(LatheProcess lathe, params string[] args)
    {
        var (code, stdout, stderr) = lathe.Run([.. args, "--threads", "1", "--json"]);
        Assert.True(code == 0, $"lathe {string.Join(' ', args)} exited {code}: {stderr}");
        return JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
    }

    [Fact]
    public void Recovery_by_distillation_from_the_unpruned_model_is_two_commands()
    {
        // The chain docs/PRUNING.md names: prune, then distil the pruned student from the unpruned teacher, then use it.
        using var lathe = new LatheProcess();
        Prepare(lathe);
        Ok(lathe, "prune", "--model", "llama", "--method", "heads", "--target", "0.5", "--out", "pruned");
        lathe.RunOk("distill", "--teacher", "llama", "--student", "pruned", "--data", "data", "--out", "recovered", "--steps", "4",
            "--batch-size", "2", "--block-size", "16", "--warmup", "1", "--eval-every", "2", "--threads", "1");
        var pruned = ModelConfig.Load(lathe.PathOf("pruned/config.json"));
        var recovered = ModelConfig.Load(Path.Combine(Checkpoint.Resolve(lathe.PathOf("recovered")), "config.json"));
        Assert.Equal((pruned.Heads, pruned.HeadDim, pruned.Layers), (recovered.Heads, recovered.HeadDim, recovered.Layers));
        Assert.Equal(4, File.ReadAllLines(lathe.PathOf("recovered/metrics.jsonl")).Count(l => l.Contains("\"distill/kl\"")));
        lathe.RunOk("generate", "--model", "recovered", "--prompt", "Call me", "--max-tokens", "4", "--threads", "1");
    }

    [Fact]
    public void Every_method_writes_a_checkpoint_of_the_shapes_it_reports()
    {
        using var lathe = new LatheProcess();
        Prepare(lathe);
        var heads = Ok(lathe, "prune", "--model", "gpt2", "--method", "heads", "--target", "0.5", "--score", "taylor", "--calibration", "data", "--calib-tokens", "500", "--out", "heads");
        Assert.Equal(2, heads.GetProperty("heads").GetInt32());
        Assert.True(heads.GetProperty("params_after").GetInt64() < heads.GetProperty("params_before").GetInt64());
        Assert.True(heads.GetProperty("calib_ppl_before").GetDouble() > 1);
        var config = ModelConfig.Load(lathe.PathOf("heads/config.json"));
        Assert.Equal((2, 2, 8), (config.Heads, config.KvHeads, config.HeadDim));
        Assert.True(File.Exists(lathe.PathOf("heads/tokenizer.json")));

        var channels = Ok(lathe, "prune", "--model", "llama", "--method", "channels", "--target", "0.25", "--score", "activation", "--calibration", "data", "--calib-tokens", "300", "--out", "channels");
        Assert.Equal(30, channels.GetProperty("intermediate").GetInt32());
        var layers = Ok(lathe, "prune", "--model", "llama", "--method", "layers", "--target", "2", "--calibration", "data", "--calib-tokens", "300", "--out", "layers");
        Assert.Equal(1, layers.GetProperty("layers").GetInt32());
        Assert.Equal(1, ModelConfig.Load(lathe.PathOf("layers/config.json")).Layers);
        var gqa = Ok(lathe, "prune", "--model", "llama", "--method", "heads", "--target", "0.5", "--out", "gqa");
        Assert.Equal((2, 1), (gqa.GetProperty("heads").GetInt32(), gqa.GetProperty("kv_heads").GetInt32()));

        var magnitude = Ok(lathe, "prune", "--model", "gpt2", "--method", "magnitude", "--target", "0.6", "--out", "magnitude");
        Assert.Equal(0.6, magnitude.GetProperty("sparsity").GetDouble(), 2);
        Assert.Equal(magnitude.GetProperty("params_before").GetInt64(), magnitude.GetProperty("params_after").GetInt64());
        var wanda = Ok(lathe, "prune", "--model", "llama", "--method", "wanda", "--target", "0.5", "--calibration", "data", "--calib-tokens", "300", "--out", "wanda");
        Assert.Equal(0.5, wanda.GetProperty("sparsity").GetDouble(), 3);
        var twoFour = Ok(lathe, "prune", "--model", "gpt2", "--method", "2:4", "--calibration", "data", "--calib-tokens", "300", "--out", "24");
        Assert.Equal(0.5, twoFour.GetProperty("sparsity").GetDouble(), 3);
        using var sparse = Checkpoint.LoadModel(lathe.PathOf("24"));
        var w = Param(sparse, "transformer.h.0.mlp.c_fc.weight").ToArray();
        Assert.Equal(w.Length / 2, w.Count(v => v == 0));
    }

    [Fact]
    public void Recovery_fine_tunes_the_pruned_model_and_keeps_a_sparsity_pattern()
    {
        using var lathe = new LatheProcess();
        Prepare(lathe);
        var heads = Ok(lathe, "prune", "--model", "gpt2", "--method", "heads", "--target", "0.5", "--calibration", "data", "--calib-tokens", "300",
            "--recover-steps", "6", "--data", "data", "--batch-size", "2", "--block-size", "16", "--lr", "3e-3", "--out", "heads");
        Assert.Equal(6, heads.GetProperty("recover_steps").GetInt32());
        Assert.True(heads.GetProperty("calib_ppl_after").GetDouble() < heads.GetProperty("calib_ppl_pruned").GetDouble(),
            $"recovery should lower the calibration perplexity: {heads}");
        var wanda = Ok(lathe, "prune", "--model", "llama", "--method", "wanda", "--target", "0.5", "--calibration", "data", "--calib-tokens", "300",
            "--recover-steps", "3", "--data", "data", "--batch-size", "2", "--block-size", "16", "--out", "wanda");
        using var model = Checkpoint.LoadModel(lathe.PathOf("wanda"));
        var w = Param(model, "model.layers.1.mlp.down_proj.weight").ToArray();
        Assert.Equal(w.Length / 2, w.Count(v => v == 0));
    }

    [Fact]
    public void Head_pruned_llama_and_channel_pruned_gpt2_export_to_gguf_and_load_back_with_the_same_logits()
    {
        using var lathe = new LatheProcess();
        Prepare(lathe);
        Ok(lathe, "prune", "--model", "llama", "--method", "heads", "--target", "0.5", "--out", "llama-heads");
        Ok(lathe, "prune", "--model", "gpt2", "--method", "channels", "--target", "0.25", "--out", "gpt2-channels");
        Ok(lathe, "prune", "--model", "gpt2", "--method", "heads", "--target", "0.25", "--out", "gpt2-heads");
        foreach (var dir in new[] { "llama-heads", "gpt2-channels", "gpt2-heads" })
        {
            var (code, _, stderr) = lathe.Run("quantize", "--model", dir, "--type", "f32", "--out", dir + ".gguf", "--threads", "1");
            Assert.True(code == 0, stderr);
            using var checkpoint = Checkpoint.LoadModel(lathe.PathOf(dir));
            using var gguf = GgufModelLoader.Load(lathe.PathOf(dir + ".gguf"));
            Assert.Equal(checkpoint.Config.Heads, gguf.Config.Heads);
            Assert.Equal(checkpoint.Config.HeadDim, gguf.Config.HeadDim);
            Assert.Equal(checkpoint.Config.Intermediate, gguf.Config.Intermediate);
            var ids = Ids(2 * 8, checkpoint.Config.VocabSize, 7);
            Assert.True(MaxAbsDiff(Logits(checkpoint, ids, 2, 8), Logits(gguf, ids, 2, 8)) <= 1e-5f, dir);
        }
    }

    [Theory]
    [InlineData("heads", "0.9", "would remove all 4 heads", "--method layers")]
    [InlineData("heads", "1.5", "--target 1.5", "(0, 1)")]
    [InlineData("channels", "0", "--target 0", "(0, 1)")]
    [InlineData("wanda", "-0.2", "--target -0.2", "(0, 1)")]
    [InlineData("layers", "3", "would remove all 3 layers", "at most 2")]
    [InlineData("prune-all", "0.5", "--method 'prune-all'", "heads, channels, layers")]
    [InlineData("wanda", "0.5", "--method wanda", "--calibration")]
    public void Bad_input_is_one_line_naming_it_with_exit_code_2(string method, string target, string what, string hint)
    {
        using var lathe = new LatheProcess();
        Prepare(lathe);
        var (code, stdout, stderr) = lathe.Run("prune", "--model", "gpt2", "--method", method, "--target", target, "--out", "out", "--threads", "1");
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains(what, stderr);
        Assert.Contains(hint, stderr);
        Assert.False(Directory.Exists(lathe.PathOf("out")));
    }

    [Fact]
    public void Calibration_text_shorter_than_calib_tokens_is_refused_by_name()
    {
        using var lathe = new LatheProcess();
        Prepare(lathe);
        var (code, _, stderr) = lathe.Run("prune", "--model", "gpt2", "--method", "heads", "--target", "0.5", "--score", "activation",
            "--calibration", "data", "--calib-tokens", "1000000", "--out", "out", "--threads", "1");
        Assert.Equal(2, code);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains("--calib-tokens 1000000", stderr);
        Assert.Contains("data", stderr);
        (code, _, stderr) = lathe.Run("prune", "--model", "gpt2", "--method", "layers", "--target", "1", "--score", "taylor", "--out", "out");
        Assert.Equal(2, code);
        Assert.Contains("--score does not apply", stderr);
    }

    [Fact]
    public void Bench_prune_times_dense_csr_and_two_four_and_prints_json_last()
    {
        using var lathe = new LatheProcess();
        var (code, stdout, stderr) = lathe.Run("bench", "prune", "--rows", "12", "--cols", "16", "--tokens", "5", "--sparsity", "0.5,0.9", "--seconds", "0.01");
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.Equal("prune", json.GetProperty("bench").GetString());
        Assert.Equal(2, json.GetProperty("csr_matvec_ms").GetArrayLength());
        Assert.True(json.GetProperty("twofour_gemm_ms").GetDouble() > 0);
        (code, _, stderr) = lathe.Run("bench", "prune", "--cols", "10");
        Assert.Equal(2, code);
        Assert.Contains("--cols", stderr);
    }

    [Fact]
    public void Plot_draws_the_curves_of_a_results_file()
    {
        using var lathe = new LatheProcess();
        File.WriteAllText(lathe.PathOf("results.json"), """
            {"runs": [
              {"method": "none", "fraction": 0, "recovered": false, "ppl": 20, "task_score": 0.5, "decode_tokens_per_s": 100, "train_tokens_per_s": 1000},
              {"method": "heads", "fraction": 0.25, "recovered": false, "ppl": 30, "task_score": 0.4, "decode_tokens_per_s": 120, "train_tokens_per_s": 1100},
              {"method": "heads", "fraction": 0.25, "recovered": true, "ppl": 24, "task_score": 0.45, "decode_tokens_per_s": 120, "train_tokens_per_s": 1100},
              {"method": "wanda", "fraction": 0.5, "recovered": false, "ppl": 26}
            ]}
            """);
        var (code, _, stderr) = lathe.Run("prune", "--plot", "results.json", "--out", "plots");
        Assert.True(code == 0, stderr);
        foreach (var name in new[] { "ppl_vs_fraction", "task_vs_fraction", "ppl_vs_decode_speed", "ppl_vs_train_speed" })
            Assert.StartsWith("<svg", File.ReadAllText(lathe.PathOf($"plots/{name}.svg")).TrimStart());
        Assert.Contains("heads + recovery", File.ReadAllText(lathe.PathOf("plots/ppl_vs_fraction.svg")));
        File.WriteAllText(lathe.PathOf("bad.json"), """{"runs": [{"method": "heads", "fraction": 0.5}]}""");
        (code, _, stderr) = lathe.Run("prune", "--plot", "bad.json", "--out", "plots");
        Assert.Equal(2, code);
        Assert.Contains("runs[0].ppl", stderr);
    }
}
