using Lathe.Training;
using System.Diagnostics;
using System.Text.Json;
using Lathe.Evaluation;
using Lathe.Formats;
using Lathe.Tokenizers;
using Lathe.Models;
using Lathe.Tensors.Autograd;

namespace Lathe.Tests.Models;

public class LossEvaluatorTests
{
    static ModelConfig Tiny => new() { ModelType = "gpt2", VocabSize = 300, MaxPositions = 16, Embd = 16, Layers = 1, Heads = 2, KvHeads = 2, Intermediate = 64 };

    [Fact]
    public void Batched_windows_and_tail_sum_to_the_per_window_losses()
    {
        using var model = CausalLM.Create(Tiny, 5);
        var rng = new Lathe.Tensors.Philox(3);
        int[] tokens = new int[16 * 5 + 7 + 1];   // five full windows of 16 and a tail of 7 predictions
        for (int i = 0; i < tokens.Length; i++) tokens[i] = rng.NextInt(256);
        var (sum, count) = LossEvaluator.Evaluate(model, tokens, B: 2, T: 16);
        Assert.Equal(16 * 5 + 7, count);
        double expected = 0;
        using var tape = new Tape();
        for (int start = 0; start < tokens.Length - 1; start += 16)
        {
            int t = Math.Min(16, tokens.Length - 1 - start);
            tape.Reset();
            using (tape.Activate()) expected += (double)Lathe.Tensors.Ops.CrossEntropy(model.Logits(tokens.AsSpan(start, t), 1, t), tokens.AsSpan(start + 1, t)).Item() * t;
        }
        Assert.Equal(expected, sum, 3);
    }

    [Fact]
    public void Eval_loss_command_prints_tokens_loss_and_bits_per_byte()
    {
        string dir = CheckpointTests.TempDir();
        using (var model = CausalLM.Create(Tiny, 5)) Checkpoint.SaveModel(dir, model, null);
        string text = "It was the Pequod, with its whale-bone tiller — a strange craft; the Pequod, the whale.\n";
        var tokenizer = new BpeTrainer(270).Train([text, text]);
        TokenizerJson.Save(tokenizer, Path.Combine(dir, "tokenizer.json"));
        var ids = tokenizer.Encode(text);
        string input = Path.Combine(dir, "input.txt");
        File.WriteAllText(input, text);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "Lathe.Cli.dll"), "eval", "loss", "--model", dir, "--input", input, "--threads", "1", "--json" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        var json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.True(ids.Count < text.Length);                                // merges were learned and used
        Assert.Equal(ids.Count - 1, json.GetProperty("tokens").GetInt32());
        double loss = json.GetProperty("loss").GetDouble();
        Assert.InRange(loss, 5.0, 6.5);                                      // an untrained model: near ln 300 = 5.70
        // Nats over the predicted tokens → bits over the bytes they cover (all but the first token's).
        int bytes = System.Text.Encoding.UTF8.GetByteCount(text) - tokenizer.DecodeBytes([ids[0]]).Length;
        Assert.Equal(loss * (ids.Count - 1) / Math.Log(2) / bytes, json.GetProperty("bits_per_byte").GetDouble(), 3);
    }
}
