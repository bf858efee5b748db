using Lathe.Training;
using System.Diagnostics;
using System.Text.Json;
using Lathe.Evaluation;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tests.Data;

namespace Lathe.Tests.Inference;

/// <summary>The verbs over the loader as a user runs them (the CLI as a child process): `eval loss` on a checkpoint and
/// on a GGUF exported from it, `generate` on a Hugging Face folder, the shared sampling options, and bad input.</summary>
public class LoaderCliTests
{
    static (int Code, string Stdout, string Stderr) Lathe(string? stdin, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Lathe.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        if (stdin is not null) { p.StandardInput.Write(stdin); p.StandardInput.Close(); }
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout, stderr.Result);
    }

    [Fact]
    public void Eval_loss_scores_a_checkpoint_and_the_gguf_exported_from_it_alike()
    {
        using var dir = new TempDir();
        string ckpt = dir.File("ckpt"), gguf = dir.File("m.gguf"), input = dir.File("input.txt");
        var tokenizer = ModelLoaderTests.WriteCheckpoint(ckpt);
        using (var model = Checkpoint.LoadModel(ckpt)) GgufExport.Save(model, tokenizer, gguf, GgmlType.F32);
        string text = ModelLoaderTests.Text + ModelLoaderTests.Text;
        File.WriteAllText(input, text);

        // Oracle: LossEvaluator over the tokenizer's ids in windows of the context (32), the checkpoint's weights.
        int[] ids = tokenizer.Encode(text, allowSpecial: false).ToArray();
        double expected;
        using (var model = Checkpoint.LoadModel(ckpt))
        {
            var (sum, count) = LossEvaluator.Evaluate(model, ids, 8, 32);
            expected = sum / count;
        }

        var results = new Dictionary<string, JsonElement>();
        foreach (var (name, path) in new[] { ("checkpoint", ckpt), ("gguf", gguf) })
        {
            var (code, stdout, stderr) = Lathe(null, "eval", "loss", "--model", path, "--input", input, "--threads", "1", "--json");
            Assert.True(code == 0, stderr);
            var lines = stdout.Trim().Split('\n');
            Assert.Single(lines);   // exactly one JSON object
            var json = JsonDocument.Parse(lines[0]).RootElement.Clone();
            Assert.Equal(path, json.GetProperty("model").GetString());
            Assert.Equal(name, json.GetProperty("format").GetString());
            Assert.Equal(input, json.GetProperty("path").GetString());
            Assert.Equal(ids.Length - 1, json.GetProperty("tokens").GetInt64());
            double loss = json.GetProperty("loss").GetDouble();
            Assert.Equal(Math.Exp(loss), json.GetProperty("perplexity").GetDouble(), 1e-9);
            int bytes = System.Text.Encoding.UTF8.GetByteCount(text) - tokenizer.DecodeBytes([ids[0]]).Length;
            Assert.Equal(loss * (ids.Length - 1) / Math.Log(2) / bytes, json.GetProperty("bits_per_byte").GetDouble(), 1e-9);
            results[name] = json;
        }
        Assert.Equal(expected, results["checkpoint"].GetProperty("loss").GetDouble(), 1e-9);
        // F32 export: the same numbers up to float rounding (the GGUF path runs its own kernels and layout).
        double ggufLoss = results["gguf"].GetProperty("loss").GetDouble();
        Assert.True(Math.Abs(ggufLoss - expected) <= 1e-6 * expected, $"gguf {ggufLoss} vs checkpoint {expected}");

        // Without --json: one human line with the same loss.
        var (code2, human, stderr2) = Lathe(null, "eval", "loss", "--model", ckpt, "--input", input, "--threads", "1");
        Assert.True(code2 == 0, stderr2);
        Assert.Single(human.Trim().Split('\n'));
        Assert.Contains($"loss {expected.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)} nats", human);
        Assert.DoesNotContain("{", human);
    }

    [Fact]
    public void Generate_runs_a_hugging_face_folder_with_its_bos_and_eos()
    {
        using var dir = new TempDir();
        string hf = dir.File("hf");
        var tokenizer = ModelLoaderTests.WriteCheckpoint(hf, ModelLoaderTests.Gpt2Tiny with { MaxPositions = 64 });
        File.WriteAllText(Path.Combine(hf, "tokenizer_config.json"), """{"add_bos_token": true, "bos_token": "<s>", "eos_token": "<|im_end|>"}""");
        var (code, stdout, stderr) = Lathe(null, "generate", "--model", hf, "--prompt", "the whale", "--max-tokens", "12", "--temperature", "0", "--json", "--threads", "1");
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        int[] tokens = json.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();

        // Oracle: greedy decoding of the checkpoint in process, the prompt being BOS + the tokenizer's ids.
        int bos = tokenizer.SpecialTokens.Single(s => s.Text == "<s>").Id, eos = tokenizer.SpecialTokens.Single(s => s.Text == "<|im_end|>").Id;
        int[] prompt = [bos, .. tokenizer.Encode("the whale")];
        using var model = Checkpoint.LoadModel(hf);
        using var generator = new Generator(model);
        int[] expected = generator.Generate(prompt, 12, new SamplingOptions { Temperature = 0 }, new HashSet<int> { eos }).ToArray();
        Assert.Equal(expected, tokens);
        Assert.Contains($"prompt {prompt.Length} tokens", stderr);
        Assert.Equal(tokenizer.Decode(tokens.Where(t => t != eos)), json.GetProperty("text").GetString());
    }

    [Fact]
    public void Sampling_options_are_shared_with_per_verb_defaults_and_checked_before_loading()
    {
        var (code, help, _) = Lathe(null, "chat", "--help");
        Assert.Equal(0, code);
        foreach (string option in new[] { "--temperature", "--top-k", "--top-p", "--min-p", "--repeat-penalty", "--frequency-penalty", "--presence-penalty", "--seed", "--max-tokens" })
            Assert.Contains(option, help);
        Assert.Matches(@"--repeat-penalty[^\n]*\n?[^\n]*1\.1", help);
        var (_, generateHelp, _) = Lathe(null, "generate", "--help");
        Assert.Contains("--stop", generateHelp);
        Assert.DoesNotMatch(@"--repeat-penalty[^\n]*1\.1", generateHelp);

        // A bad value is one line and exit 2 before any model is read (the model path does not exist).
        var (bad, _, stderr) = Lathe(null, "generate", "--model", "/nonexistent", "--prompt", "x", "--top-p", "0");
        Assert.Equal(2, bad);
        Assert.Equal("lathe: generate: top-p 0 must be in (0, 1].", stderr.Trim());
        (bad, _, stderr) = Lathe("hi\n", "chat", "--model", "/nonexistent", "--frequency-penalty", "NaN");
        Assert.Equal(2, bad);
        Assert.Equal("lathe: chat: frequency penalty NaN must be a finite number.", stderr.Trim());
    }

    [Fact]
    public void A_folder_missing_its_tokenizer_is_exit_2_with_one_line_naming_it()
    {
        using var dir = new TempDir();
        string ckpt = dir.File("ckpt");
        ModelLoaderTests.WriteCheckpoint(ckpt);
        File.Delete(Path.Combine(ckpt, "tokenizer.json"));
        File.WriteAllText(dir.File("in.txt"), ModelLoaderTests.Text);
        var (code, stdout, stderr) = Lathe(null, "eval", "loss", "--model", ckpt, "--input", dir.File("in.txt"), "--json");
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.StartsWith($"lathe: {ckpt}: tokenizer.json is missing", stderr.Trim());
    }
}
