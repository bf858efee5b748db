using System.Text.Json;
using Lathe.Compression;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors.Autograd;
using Lathe.Tokenizers;
using Lathe.Training;

namespace Lathe.Tests.Cli;

/// <summary>`lathe quantize imatrix` then `lathe quantize --type q4_k_m --imatrix … --eval …` as a user runs them: the
/// mix lands in the file, the importance matrix changes the blocks, the reported perplexity and KL divergence equal a
/// direct computation on the two models; bad presets and imatrix files are one-line errors with exit code 2.</summary>
public class QuantizeCliTests
{
    const string Text = "Call me Ishmael. Some years ago — never mind how long precisely — having little or no money in my purse, "
        + "and nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the world.\n";

    // Rows of 256 so every k-quant fits; two layers: llama.cpp's "more bits" layer of q4_k_m is layer 1.
    static readonly ModelConfig Config = new()
    {
        ModelType = "llama", VocabSize = 300, MaxPositions = 64, Embd = 256, Layers = 2, Heads = 4, KvHeads = 2, Intermediate = 512,
        TieEmbeddings = false,
    };

    static string Checkpoint(LatheProcess lathe, out Tokenizer tokenizer)
    {
        tokenizer = new BpeTrainer(300, ["<|endoftext|>"], minFrequency: 1).Train([Text, Text]);
        string ckpt = lathe.PathOf("ckpt");
        Directory.CreateDirectory(ckpt);
        using var model = CausalLM.Create(Config, 5);
        TokenizerJson.Save(tokenizer, Path.Combine(ckpt, "tokenizer.json"));
        global::Lathe.Formats.Checkpoint.SaveModel(ckpt, model, null);
        File.WriteAllText(lathe.PathOf("text.txt"), Text + Text + Text);
        return ckpt;
    }

    static JsonElement LastJson(string stdout) => JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;

    [Fact]
    public void Imatrix_then_q4_k_m_with_it_writes_the_mix_and_the_importance_changes_the_blocks()
    {
        using var lathe = new LatheProcess();
        Checkpoint(lathe, out _);
        var (code, stdout, stderr) = lathe.Run("quantize", "imatrix", "--model", "ckpt", "--text", "text.txt", "--out", "m.gguf", "--window", "32", "--threads", "1");
        Assert.True(code == 0, stderr);
        var im = LastJson(stdout);
        Assert.Equal(14, im.GetProperty("entries").GetInt32());
        var matrix = ImportanceMatrix.Read(lathe.PathOf("m.gguf"));
        Assert.Equal(im.GetProperty("chunks").GetInt32() * 32, matrix.Entries["blk.0.attn_q.weight"].Count);

        (code, stdout, stderr) = lathe.Run("quantize", "--model", "ckpt", "--type", "q4_k_m", "--imatrix", "m.gguf", "--out", "q.gguf", "--threads", "1");
        Assert.True(code == 0, stderr);
        var json = LastJson(stdout);
        Assert.Equal(15u, json.GetProperty("file_type").GetUInt32());
        Assert.Equal(14, json.GetProperty("imatrix").GetInt32());
        using (var file = GgufFile.Open(lathe.PathOf("q.gguf")))
        {
            Assert.Equal(15u, file.Meta<uint>("general.file_type"));
            Assert.Equal(GgmlType.Q4_K, file.Get("blk.0.attn_v.weight").Type);
            Assert.Equal(GgmlType.Q6_K, file.Get("blk.1.attn_v.weight").Type);
            Assert.Equal(GgmlType.Q6_K, file.Get("blk.1.ffn_down.weight").Type);
            Assert.Equal(GgmlType.Q6_K, file.Get("output.weight").Type);
            Assert.Equal(GgmlType.Q4_K, file.Get("token_embd.weight").Type);
        }

        // Without the matrix the k-quant blocks are rounded differently (same types, other bytes).
        (code, _, stderr) = lathe.Run("quantize", "--model", "ckpt", "--type", "q4_k_m", "--out", "plain.gguf", "--threads", "1");
        Assert.True(code == 0, stderr);
        using var weighted = GgufFile.Open(lathe.PathOf("q.gguf"));
        using var plain = GgufFile.Open(lathe.PathOf("plain.gguf"));
        Assert.False(weighted.Bytes(weighted.Get("blk.0.attn_q.weight")).SequenceEqual(plain.Bytes(plain.Get("blk.0.attn_q.weight"))));
        // the head has no entry (the imatrix tool skips it): both files round it alike
        Assert.True(weighted.Bytes(weighted.Get("output.weight")).SequenceEqual(plain.Bytes(plain.Get("output.weight"))));
    }

    [Fact]
    public void Eval_reports_the_perplexity_and_kl_divergence_of_the_two_models()
    {
        using var lathe = new LatheProcess();
        string ckpt = Checkpoint(lathe, out var tokenizer);
        var (code, stdout, stderr) = lathe.Run("quantize", "--model", "ckpt", "--type", "q8_0", "--out", "q.gguf",
            "--eval", "text.txt", "--block-size", "32", "--threads", "1");
        Assert.True(code == 0, stderr);
        var json = LastJson(stdout);
        Assert.Equal("quantized", json.GetProperty("eval_weights").GetString());
        // The figures are those of the checkpoint and the written file, weights kept in Q8_0, over the same windows.
        int[] ids = tokenizer.Encode(Text + Text + Text, allowSpecial: false).ToArray();
        using var before = global::Lathe.Formats.Checkpoint.LoadModel(ckpt);
        using var after = ModelLoader.Load(lathe.PathOf("q.gguf"), new LoadOptions { ContextLength = 64 });
        var (sum, count) = LossEvaluator.Evaluate(before, ids, 1, 32);
        Assert.Equal(Math.Exp(sum / count), json.GetProperty("ppl_before").GetDouble(), 3);
        (sum, _) = LossEvaluator.Evaluate(after.Decoder, ids, 1, 32);
        Assert.Equal(Math.Exp(sum / count), json.GetProperty("ppl_after").GetDouble(), 3);
        Assert.Equal(count, json.GetProperty("eval_tokens").GetInt64());
        var (meanKl, same) = DirectKl(before, after.Decoder, ids, 32);
        Assert.True(meanKl > 0, "q8_0 changed nothing?");
        Assert.Equal(meanKl, json.GetProperty("kl_mean").GetDouble(), 1e-3 * meanKl);
        Assert.Equal(same, json.GetProperty("same_top_token").GetDouble(), 4);
        Assert.True(json.GetProperty("kl_p99").GetDouble() >= json.GetProperty("kl_median").GetDouble());
        Assert.True(json.GetProperty("kl_max").GetDouble() >= json.GetProperty("kl_p99").GetDouble());
    }

    // KL(P‖Q) per position written out plainly: softmax both rows, Σ p·log(p/q).
    static (double MeanKl, double SameTop) DirectKl(CausalLM p, CausalLM q, int[] ids, int T)
    {
        double total = 0;
        int n = 0, same = 0;
        for (int pos = 0; pos < ids.Length - 1; pos += T)
        {
            int t = Math.Min(T, ids.Length - 1 - pos);
            float[] lp, lq;
            using (var tape = new Tape())
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                lp = p.Logits(ids.AsSpan(pos, t), 1, t).ToArray();
                lq = q.Logits(ids.AsSpan(pos, t), 1, t).ToArray();
            }
            int V = p.Config.VocabSize;
            for (int i = 0; i < t; i++)
            {
                double[] a = Softmax(lp.AsSpan(i * V, V)), b = Softmax(lq.AsSpan(i * V, V));
                double d = 0;
                for (int v = 0; v < V; v++) if (a[v] > 0) d += a[v] * Math.Log(a[v] / b[v]);
                total += d;
                n++;
                if (Array.IndexOf(a, a.Max()) == Array.IndexOf(b, b.Max())) same++;
            }
        }
        return (total / n, (double)same / n);
    }

    static double[] Softmax(ReadOnlySpan<float> x)
    {
        double max = double.NegativeInfinity;
        foreach (float v in x) max = Math.Max(max, v);
        var e = new double[x.Length];
        double s = 0;
        for (int i = 0; i < x.Length; i++) s += e[i] = Math.Exp(x[i] - max);
        for (int i = 0; i < x.Length; i++) e[i] /= s;
        return e;
    }

    [Fact]
    public void Unknown_preset_and_bad_imatrix_files_are_one_line_errors_with_exit_code_2()
    {
        using var lathe = new LatheProcess();
        Checkpoint(lathe, out _);
        var (code, _, stderr) = lathe.Run("quantize", "--model", "ckpt", "--type", "q4_k_x", "--out", "x.gguf");
        Assert.Equal(2, code);
        Assert.Contains("--type 'q4_k_x' is not one of", stderr);
        Assert.Contains("q4_k_m", stderr);
        Assert.Contains("q4_k (= q4_k_m)", stderr);
        Assert.Single(stderr.Trim().Split('\n'));

        (code, _, stderr) = lathe.Run("quantize", "imatrix", "--model", "ckpt", "--text", "text.txt", "--out", "m.gguf", "--window", "32", "--threads", "1");
        Assert.True(code == 0, stderr);
        var full = ImportanceMatrix.Read(lathe.PathOf("m.gguf"));

        // an entry missing
        var missing = new Dictionary<string, ImportanceEntry>(full.Entries);
        missing.Remove("blk.1.ffn_up.weight");
        new ImportanceMatrix(missing, full.Datasets, full.ChunkCount, full.ChunkSize).Write(lathe.PathOf("missing.gguf"));
        (code, _, stderr) = lathe.Run("quantize", "--model", "ckpt", "--type", "q4_k_m", "--imatrix", "missing.gguf", "--out", "x.gguf");
        Assert.Equal(2, code);
        Assert.Contains("missing.gguf", stderr);
        Assert.Contains("no entry for tensor 'blk.1.ffn_up.weight'", stderr);
        Assert.Single(stderr.Trim().Split('\n'));

        // an entry of the wrong length, in the legacy layout
        var shortRow = new Dictionary<string, ImportanceEntry>(full.Entries)
        {
            ["blk.0.attn_q.weight"] = new ImportanceEntry(new float[100], 10),
        };
        new ImportanceMatrix(shortRow, full.Datasets, full.ChunkCount, full.ChunkSize).Write(lathe.PathOf("short.dat"), legacy: true);
        (code, _, stderr) = lathe.Run("quantize", "--model", "ckpt", "--type", "q6_k", "--imatrix", "short.dat", "--out", "x.gguf");
        Assert.Equal(2, code);
        Assert.Contains("short.dat", stderr);
        Assert.Contains("'blk.0.attn_q.weight' has 100 values but the tensor's rows have 256", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.False(File.Exists(lathe.PathOf("x.gguf")));

        (code, _, stderr) = lathe.Run("quantize", "imatrix", "--model", "ckpt", "--text", "text.txt", "--out", "m.gguf", "--format", "bin");
        Assert.Equal(2, code);
        Assert.Contains("--format 'bin' is not one of gguf, dat", stderr);
    }
}
