using Lathe.Training;
using System.Diagnostics;
using System.Text.Json;
using Lathe.Evaluation;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tests.Data;
using Lathe.Tokenizers;

namespace Lathe.Tests.Inference;

/// <summary>`lathe quantize` and `lathe generate --model FILE.gguf` as a user runs them (the CLI as a child process).</summary>
public class GgufCliTests
{
    static (int Code, string Stdout, string Stderr) Lathe(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Lathe.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout, stderr.Result);
    }

    const string Text = "It was the Pequod, with its whale-bone tiller — a strange craft; the Pequod, the whale. Call me Ishmael.\n";

    [Fact]
    public void Quantize_writes_a_gguf_that_generate_runs_and_reports_the_perplexity_of_both()
    {
        using var dir = new TempDir();
        var config = new ModelConfig { ModelType = "llama", VocabSize = 300, MaxPositions = 64, Embd = 64, Layers = 1, Heads = 4, KvHeads = 2, Intermediate = 64, TieEmbeddings = false };
        var tokenizer = new BpeTrainer(300, ["<|endoftext|>"], minFrequency: 1).Train([Text, Text]);
        string ckpt = dir.File("ckpt");
        using (var model = CausalLM.Create(config, 9))
        {
            Directory.CreateDirectory(ckpt);
            TokenizerJson.Save(tokenizer, Path.Combine(ckpt, "tokenizer.json"));
            Checkpoint.SaveModel(ckpt, model, null);
        }
        string eval = dir.File("eval.txt"), gguf = dir.File("m.gguf");
        File.WriteAllText(eval, Text + Text);
        var (code, stdout, stderr) = Lathe("quantize", "--model", ckpt, "--type", "q8_0", "--out", gguf, "--eval", eval, "--threads", "1");
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.Equal("q8_0", json.GetProperty("quantize").GetString());
        // Before: the checkpoint; after: the written file with its weights kept quantized (the kernels generate runs);
        // both over the same tokens, windows of min(context, 512).
        var ids = tokenizer.Encode(Text + Text, allowSpecial: false).ToArray();
        int T = Math.Min(64, ids.Length - 1);
        using (var before = Checkpoint.LoadModel(ckpt))
        {
            var (sum, count) = LossEvaluator.Evaluate(before, ids, 4, T);
            Assert.Equal(Math.Exp(sum / count), json.GetProperty("ppl_before").GetDouble(), 3);
        }
        using (var after = GgufModelLoader.LoadQuantized(gguf))
        {
            var (sum, count) = LossEvaluator.Evaluate(after, ids, 4, T);
            Assert.Equal(Math.Exp(sum / count), json.GetProperty("ppl_after").GetDouble(), 3);
            Assert.Equal(count, json.GetProperty("eval_tokens").GetInt64());
        }

        (code, stdout, stderr) = Lathe("generate", "--model", gguf, "--prompt-ids", "5 9 12", "--max-tokens", "12", "--temperature", "0", "--json", "--threads", "1");
        Assert.True(code == 0, stderr);
        var tokens = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        using var loaded = GgufModelLoader.Load(gguf);
        using var generator = new Generator(loaded);
        var greedy = new SamplingOptions { Temperature = 0, TopK = 0, TopP = 1, MinP = 0 };
        var expected = generator.Generate([5, 9, 12], 12, greedy, new HashSet<int> { tokenizer.EndOfTextId }).ToArray();
        Assert.Equal(expected, tokens);
    }

    [Fact]
    public void Bad_type_and_corrupt_gguf_are_one_line_errors_with_exit_code_2()
    {
        using var dir = new TempDir();
        var (code, _, stderr) = Lathe("quantize", "--model", GgufParityTests.Fixture("gpt2vocab-f32.gguf"), "--type", "q5_1", "--out", dir.File("x.gguf"));
        Assert.Equal(2, code);
        Assert.Contains("--type 'q5_1' is not one of f32, f16, q8_0, q4_0", stderr);
        string truncated = dir.File("truncated.gguf");
        File.WriteAllBytes(truncated, File.ReadAllBytes(GgufParityTests.Fixture("gpt2vocab-q4_0.gguf"))[..5000]);
        (code, _, stderr) = Lathe("generate", "--model", truncated, "--prompt", "hello");
        Assert.Equal(2, code);
        Assert.Contains("truncated.gguf", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }
}
