using Lathe.Data;
using Lathe.Formats;
using System.Diagnostics;
using System.Text.Json;
using Lathe.Models;
using Lathe.Training;

namespace Lathe.Tests.Models;

/// <summary>`lathe pretrain --config bert-tiny` as a child process: trains, the loss falls, the checkpoint is a BERT
/// with HF config fields; a corpus that uses the special ids is a one-line error with exit code 2.</summary>
public class BertPretrainCliTests
{
    static string Cli => Path.Combine(AppContext.BaseDirectory, "Lathe.Cli.dll");

    static string MakeData(int maxId)
    {
        string dir = CheckpointTests.TempDir();
        var rng = new Lathe.Tensors.Philox(11);
        var tokens = new int[6000];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = rng.NextInt(4) == 0 ? rng.NextInt(maxId + 1) : (i * 5) % 17;
        tokens[^1] = maxId;
        TokenShards.Write(Path.Combine(dir, "t_train_000.bin"), tokens);
        TokenShards.Write(Path.Combine(dir, "t_val_000.bin"), tokens.AsSpan(0, 600));
        return dir;
    }

    static (int Code, string Stderr) Run(string data, string run, int steps)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { Cli, "pretrain", "--config", "bert-tiny", "--n-layer", "1", "--n-embd", "32", "--n-head", "2", "--intermediate-size", "64",
                     "--n-positions", "32", "--vocab-size", "68", "--data", data, "--out", run, "--steps", steps.ToString(), "--batch-size", "8",
                     "--block-size", "32", "--lr", "3e-3", "--warmup", "5", "--eval-every", "0", "--threads", "1" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "pretrain did not finish");
        return (p.ExitCode, err.Result);
    }

    [Fact]
    public void Pretrain_bert_tiny_trains_and_the_loss_falls()
    {
        string run = CheckpointTests.TempDir();
        var (code, stderr) = Run(MakeData(63), run, 60);
        Assert.True(code == 0, stderr);
        var losses = File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement).Where(e => e.TryGetProperty("loss", out _)).Select(e => e.GetProperty("loss").GetDouble()).ToArray();
        Assert.Equal(60, losses.Length);
        double first = losses.Take(5).Average(), last = losses.TakeLast(10).Average();
        Assert.True(last < first - 0.5, $"training loss {first:F3} → {last:F3} did not fall by 0.5");
        using var model = Checkpoint.LoadAny(run);
        Assert.IsType<BertModel>(model);
        Assert.Equal((68, 64, 67), (model.Config.VocabSize, model.Config.ClsId, model.Config.PadId));
    }

    [Fact]
    public void Corpus_ids_that_collide_with_the_special_ids_are_a_one_line_error()
    {
        // 64 is [CLS] when vocab_size is 68 ([SEP] 65 is allowed: it is the document separator of WordPiece shards).
        var (code, stderr) = Run(MakeData(64), CheckpointTests.TempDir(), 5);
        Assert.Equal(2, code);
        string line = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last();
        Assert.StartsWith("lathe: bert: corpus token 64 is a special id", line);
    }
}
