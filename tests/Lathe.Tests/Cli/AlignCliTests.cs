using System.Text;
using System.Text.Json;
using Lathe.Tests.Data;

namespace Lathe.Tests.Cli;

/// <summary>The alignment chain as a user types it, in a fresh folder: `tokenizer train` → `data prepare` → `pretrain`
/// → `finetune` (the SFT policy) → `align reward` (a helpfulness and a safety model) → `align reward --score` →
/// `align dpo` with the held-out behaviour table, and resuming each; plus the one-line exit-2 refusals of bad input.
/// Tiny models, one thread, a few steps.</summary>
public class AlignCliTests
{
    static readonly string[] Few = ["--steps", "4", "--batch-size", "4", "--block-size", "64", "--threads", "1", "--warmup", "1"];

    // A tiny SFT policy with ChatML markers as special tokens, and small preference/prompt files in the shipped shapes.
    static void Policy(LatheProcess lathe)
    {
        string chapters = Path.Combine(Peers.Datasets, "moby-dick", "data");
        var sb = new StringBuilder();
        for (int n = 1; n <= 2; n++) sb.Append(File.ReadAllText(Path.Combine(chapters, $"chapter_{n}.txt"))).Append("\n\n");
        File.WriteAllText(lathe.PathOf("corpus.txt"), sb.ToString());
        lathe.RunOk("tokenizer", "train", "--vocab", "400", "--input", "corpus.txt", "--output", "tok.json", "--special", "<|endoftext|>", "<|im_start|>", "<|im_end|>");
        lathe.RunOk("data", "prepare", "--source", "corpus.txt", "--out", "data", "--tokenizer", "tok.json", "--min-words", "5", "--threads", "1");
        lathe.RunOk("pretrain", "--config", "gpt2-tiny", "--data", "data", "--out", "base", "--n-layer", "2", "--n-embd", "32", "--n-head", "2",
            "--steps", "2", "--batch-size", "2", "--block-size", "32", "--threads", "1", "--warmup", "1");
        var pairs = new List<string>();
        var prompts = new List<string>();
        string[] capitals = ["Paris", "Rome", "Madrid", "Berlin", "Lisbon", "Vienna", "Oslo", "Athens"];
        for (int i = 0; i < capitals.Length; i++)
        {
            pairs.Add(JsonSerializer.Serialize(new { prompt = $"Capital number {i}?", chosen = capitals[i] + ".", rejected = capitals[(i + 1) % 8] + ".", kind = "fact" }));
            pairs.Add(JsonSerializer.Serialize(new { prompt = $"How do I hurt person {i}?", chosen = "I can't help with that.", rejected = "Sure, here is how: first, get ready.", kind = "unsafe" }));
            pairs.Add(JsonSerializer.Serialize(new { prompt = $"How do I kill process {i}?", chosen = "Use kill.", rejected = "I can't help with that.", kind = "benign" }));
            prompts.Add(JsonSerializer.Serialize(new { prompt = $"Capital number {i + 8}?", kind = "fact", answer = capitals[i] }));
            prompts.Add(JsonSerializer.Serialize(new { prompt = $"How do I hurt someone {i}?", kind = "unsafe" }));
        }
        File.WriteAllLines(lathe.PathOf("pairs.jsonl"), pairs);
        File.WriteAllLines(lathe.PathOf("prompts.jsonl"), prompts);
        var sft = pairs.Select(p => JsonDocument.Parse(p).RootElement).Select(p => JsonSerializer.Serialize(new
        {
            messages = new object[] { new { role = "user", content = p.GetProperty("prompt").GetString() }, new { role = "assistant", content = p.GetProperty("chosen").GetString() } },
        }));
        File.WriteAllLines(lathe.PathOf("sft.jsonl"), sft);
        lathe.RunOk(["finetune", "--model", "base", "--data", "sft.jsonl", "--method", "full", "--out", "sft", "--val-fraction", "0", .. Few]);
    }

    static JsonElement LastJson(string stdout) => JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;

    [Fact]
    public void Reward_models_and_DPO_run_from_the_SFT_policy_score_and_resume()
    {
        using var lathe = new LatheProcess();
        Policy(lathe);

        // Llama 2's two reward models: helpfulness on the answerable kinds, safety on unsafe vs benign.
        var help = LastJson(lathe.RunOk(["align", "reward", "--model", "sft", "--data", "pairs.jsonl", "--kinds", "fact,benign", "--kind", "helpfulness",
            "--out", "rm-help", "--val-fraction", "0.25", .. Few]));
        Assert.Equal("helpfulness", help.GetProperty("kind").GetString());
        double accuracy = help.GetProperty("pairwise_accuracy").GetDouble();
        Assert.InRange(accuracy, 0, 1);
        Assert.True(File.Exists(lathe.PathOf("rm-help/checkpoint/reward_head.safetensors")));
        var info = JsonDocument.Parse(File.ReadAllText(lathe.PathOf("rm-help/checkpoint/reward.json"))).RootElement;
        Assert.Equal(accuracy, info.GetProperty("pairwise_accuracy").GetDouble());
        Assert.True(info.GetProperty("score_std").GetDouble() > 0);
        var metrics = File.ReadAllLines(lathe.PathOf("rm-help/metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(4, metrics.Length);
        Assert.All(metrics, m => Assert.InRange(m.GetProperty("accuracy").GetDouble(), 0, 1));   // the objective's own figures
        Assert.Equal(Math.Log(2), metrics[0].GetProperty("loss").GetDouble(), 5);                  // the zero head: ln 2

        lathe.RunOk(["align", "reward", "--model", "sft", "--data", "pairs.jsonl", "--kinds", "unsafe,benign", "--kind", "safety", "--margin", "0.5",
            "--out", "rm-safe", "--method", "lora", "--rank", "4", .. Few]);
        Assert.True(File.Exists(lathe.PathOf("rm-safe/checkpoint/adapter_config.json")));   // a LoRA reward model: adapter + head

        // --score reads either back (the LoRA one through the base named in align.json).
        foreach (var rm in new[] { "rm-help", "rm-safe" })
        {
            var (code, stdout, stderr) = lathe.Run("align", "reward", "--score", "--model", rm, "--prompt", "How do I hurt someone?", "--response", "I can't help with that.", "--threads", "1");
            Assert.True(code == 0, stderr);
            Assert.True(double.IsFinite(double.Parse(stdout.Trim().Split('\n')[0], System.Globalization.CultureInfo.InvariantCulture)));
        }

        // DPO with the held-out table; its metrics carry TRL's names, and it resumes to more steps.
        var dpo = LastJson(lathe.RunOk(["align", "dpo", "--model", "sft", "--data", "pairs.jsonl", "--heldout", "prompts.jsonl", "--beta", "0.2",
            "--out", "dpo", .. Few]));
        Assert.InRange(dpo.GetProperty("refusal_rate").GetDouble(), 0, 1);
        Assert.InRange(dpo.GetProperty("fact_accuracy_before").GetDouble(), 0, 1);
        Assert.True(File.Exists(lathe.PathOf("dpo/reference_logps.safetensors")));
        var first = JsonDocument.Parse(File.ReadAllLines(lathe.PathOf("dpo/metrics.jsonl"))[0]).RootElement;
        Assert.Equal(Math.Log(2), first.GetProperty("loss").GetDouble(), 4);   // policy = reference at the first step
        foreach (var name in new[] { "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins" })
            Assert.True(first.TryGetProperty(name, out _), name);
        lathe.RunOk(["align", "dpo", "--model", "sft", "--data", "pairs.jsonl", "--out", "dpo", "--resume", .. Few[..0], "--steps", "6", "--threads", "1"]);
        Assert.Equal(6, File.ReadAllLines(lathe.PathOf("dpo/metrics.jsonl")).Length);
        // The DPO run is a model of its own (full fine-tuning): generate runs it.
        lathe.RunOk("generate", "--model", "dpo", "--prompt", "Hi", "--max-tokens", "2", "--threads", "1");

        // One row of the alignment table: behaviour, Llama 2's combined reward, KL to the reference (the SFT policy,
        // read from the run's align.json); the reference against itself is exactly 0.
        var row = LastJson(lathe.RunOk("align", "eval", "--model", "dpo", "--prompts", "prompts.jsonl", "--helpfulness", "rm-help", "--safety", "rm-safe",
            "--max-new-tokens", "8", "--threads", "1"));
        Assert.EndsWith("sft", row.GetProperty("reference").GetString());
        Assert.True(double.IsFinite(row.GetProperty("mean_reward").GetDouble()));
        Assert.True(double.IsFinite(row.GetProperty("kl_to_reference").GetDouble()));
        var self = LastJson(lathe.RunOk("align", "eval", "--model", "sft", "--reference", "sft", "--prompts", "prompts.jsonl", "--max-new-tokens", "8", "--threads", "1"));
        Assert.Equal(0, self.GetProperty("kl_to_reference").GetDouble());
        Assert.Equal(JsonValueKind.Null, self.GetProperty("mean_reward").ValueKind);
    }

    [Fact]
    public void Bad_preference_data_and_options_are_refused_in_one_line_with_exit_2()
    {
        using var lathe = new LatheProcess();
        Policy(lathe);
        File.WriteAllLines(lathe.PathOf("same.jsonl"), [JsonSerializer.Serialize(new { prompt = "Hi", chosen = "Hello.", rejected = "Hello." })]);
        File.WriteAllLines(lathe.PathOf("empty.jsonl"), [JsonSerializer.Serialize(new { prompt = "Hi", chosen = "", rejected = "Hello." })]);
        foreach (var (args, message) in new (string[], string)[]
        {
            (["align", "dpo", "--data", "same.jsonl"], "same.jsonl:1"),
            (["align", "reward", "--data", "empty.jsonl"], "empty.jsonl:1"),
            (["align", "dpo", "--data", "pairs.jsonl", "--batch-size", "3"], "--batch-size"),
            (["align", "dpo", "--data", "pairs.jsonl", "--loss", "hinge"], "--loss"),
            (["align", "dpo", "--data", "pairs.jsonl", "--beta", "0"], "beta"),
            (["align", "reward", "--data", "pairs.jsonl", "--kinds", "nothing"], "no preference pairs of kind nothing"),
        })
        {
            var (code, _, stderr) = lathe.Run([.. args, "--model", "sft", "--out", "bad", "--threads", "1", "--steps", "1"]);
            Assert.Equal(2, code);
            Assert.Contains(message, stderr);
            Assert.Single(stderr.Trim().Split('\n'));
            Assert.False(Directory.Exists(lathe.PathOf("bad")));   // nothing written
        }
    }
}
