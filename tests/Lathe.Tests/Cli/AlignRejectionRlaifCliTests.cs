using Lathe.Data;
using System.CommandLine;
using System.Text.Json;
using Lathe.Alignment;
using Lathe.Cli;
using Lathe.Cli.Verbs;
using Lathe.Models;
using Lathe.Tests.Data;
using Lathe.Tokenizers;

namespace Lathe.Tests.Cli;

/// <summary>Shared tiny inputs for the in-process `align rejection` and `align rlaif` tests: a GPT-2 policy over a BPE
/// vocabulary with ChatML markers, a reward model trained for two steps by `align reward`, prompts and held-out
/// prompts in the shipped shapes.</summary>
internal static class AlignLoopInputs
{
    const string Corpus = "the capital of france is paris. the capital of italy is rome. two plus two is four. " +
        "i can't help with that. sure, here is how. use kill to stop a process. lock your own bike. answer: a or b. response a is better.";

    public static (int Code, string Stdout, string Stderr) Run(Command verb, params string[] args)
    {
        var root = new Command("lathe") { new Command("align") { verb } };
        using var capture = new ConsoleCapture();
        int code = CliRunner.Run(root, ["align", verb.Name, .. args]);
        return (code, capture.Stdout, capture.Stderr);
    }

    public static JsonElement LastJson(string stdout) => JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;

    /// <summary>Writes policy/ (a model folder), prompts.jsonl, heldout.jsonl and pairs.jsonl into <paramref name="dir"/>.</summary>
    public static void Write(TempDir dir)
    {
        string tok = dir.File("tok.json");
        new BpeTrainer(300, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], minFrequency: 1).Train([Corpus]).Save(tok);
        using (var model = CausalLM.Create(new ModelConfig { ModelType = "gpt2", VocabSize = 300, MaxPositions = 768, Embd = 32, Layers = 2, Heads = 2, KvHeads = 2, Intermediate = 64 }, 11))
            Lathe.Formats.Checkpoint.SaveModel(dir.File("policy"), model, tok);
        string[] countries = ["france", "italy", "spain", "norway", "greece", "austria"];
        File.WriteAllLines(dir.File("prompts.jsonl"), countries.Select((c, i) => JsonSerializer.Serialize(i % 2 == 0
            ? new { prompt = $"the capital of {c}?", kind = "fact" } : (object)new { prompt = $"how do i hurt someone in {c}?", kind = "unsafe" })));
        File.WriteAllLines(dir.File("heldout.jsonl"), [
            JsonSerializer.Serialize(new { prompt = "the capital of italy?", kind = "fact", answer = "rome" }),
            JsonSerializer.Serialize(new { prompt = "how do i lock my own bike?", kind = "benign" })]);
        File.WriteAllLines(dir.File("pairs.jsonl"), countries.SelectMany((c, i) => new[]
        {
            JsonSerializer.Serialize(new { prompt = $"the capital of {c}?", chosen = "paris.", rejected = "sure, here is how.", kind = "fact" }),
            JsonSerializer.Serialize(new { prompt = $"how do i hurt someone in {c}?", chosen = "i can't help with that.", rejected = "sure, here is how.", kind = "unsafe" }),
        }));
    }

    /// <summary>A reward model (rm/) from two steps of `align reward` on the pairs.</summary>
    public static void RewardModel(TempDir dir)
    {
        var (code, _, stderr) = Run(AlignRewardVerb.Create(), "--model", dir.File("policy"), "--data", dir.File("pairs.jsonl"), "--out", dir.File("rm"),
            "--val-fraction", "0.25", "--steps", "2", "--batch-size", "4", "--block-size", "64", "--threads", "1", "--warmup", "1");
        Assert.True(code == 0, stderr);
    }
}

/// <summary>`lathe align rejection` in process on a tiny policy and reward model: two rounds with the run folder's
/// files, align.json and the final JSON line; Llama 2's two-model reward with LoRA; one-line exit-2 refusals.</summary>
[Collection(nameof(ConsoleCapture))]
public class AlignRejectionCliTests
{
    static readonly string[] Few = ["--samples", "3", "--max-new-tokens", "6", "--steps", "2", "--batch-size", "4", "--block-size", "64", "--threads", "1", "--warmup", "1", "--seed", "4"];

    [Fact]
    public void Two_rounds_write_winners_checkpoints_and_the_figures()
    {
        using var dir = new TempDir();
        AlignLoopInputs.Write(dir);
        AlignLoopInputs.RewardModel(dir);
        string run = dir.File("rs");
        var (code, stdout, stderr) = AlignLoopInputs.Run(AlignRejectionVerb.Create(), ["--model", dir.File("policy"), "--prompts", dir.File("prompts.jsonl"),
            "--reward", dir.File("rm"), "--rounds", "2", "--heldout", dir.File("heldout.jsonl"), "--out", run, .. Few]);
        Assert.True(code == 0, stderr);
        var json = AlignLoopInputs.LastJson(stdout);
        Assert.Equal(("rejection", 2, 3, 6), (json.GetProperty("align").GetString(), json.GetProperty("rounds").GetInt32(), json.GetProperty("samples").GetInt32(), json.GetProperty("prompts").GetInt32()));
        for (int round = 1; round <= 2; round++)
        {
            double best = json.GetProperty($"best_of_k_reward_round{round}").GetDouble(), mean = json.GetProperty($"mean_reward_round{round}").GetDouble();
            Assert.True(best >= mean, $"round {round}: best {best} < mean {mean}");
            // The winners: one a prompt, in the chat shape, each with its reward; their mean is the round's best-of-K.
            var winners = File.ReadAllLines(Path.Combine(run, $"round-{round}", "winners.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.Equal(6, winners.Count);
            Assert.All(winners, w => Assert.Equal("assistant", w.GetProperty("messages")[1].GetProperty("role").GetString()));
            Assert.Equal(best, Math.Round(winners.Average(w => w.GetProperty("reward").GetDouble()), 4), 4);
            Assert.True(File.Exists(Path.Combine(run, $"round-{round}", "checkpoint", "model.safetensors")));
            Assert.Equal(2, File.ReadAllLines(Path.Combine(run, $"round-{round}", "metrics.jsonl")).Length);
        }
        Assert.Equal(2, File.ReadAllLines(Path.Combine(run, "rounds.jsonl")).Length);
        Assert.True(json.TryGetProperty("fact_accuracy_before", out _) && json.TryGetProperty("fact_accuracy", out _));
        Assert.True(json.GetProperty("peak_rss_mb").GetDouble() > 0);
        var settings = AlignedModel.ReadSettings(run)!;
        Assert.Equal(("rejection", Path.GetFullPath(dir.File("policy")), "chatml"),
            (settings["method"]!.GetValue<string>(), settings["base"]!.GetValue<string>(), settings["template"]!.GetValue<string>()));
        // checkpoint/ is round 2's, and the run opens as a model.
        Assert.Equal(File.ReadAllBytes(Path.Combine(run, "round-2", "checkpoint", "model.safetensors")), File.ReadAllBytes(Path.Combine(run, "checkpoint", "model.safetensors")));
        using (var opened = AlignedModel.Open(run)) Assert.Null(opened.Adapter);

        // The same seed: the same winners.
        var (again, _, err2) = AlignLoopInputs.Run(AlignRejectionVerb.Create(), ["--model", dir.File("policy"), "--prompts", dir.File("prompts.jsonl"),
            "--reward", dir.File("rm"), "--rounds", "1", "--out", dir.File("rs-again"), .. Few]);
        Assert.True(again == 0, err2);
        Assert.Equal(File.ReadAllText(Path.Combine(run, "round-1", "winners.jsonl")), File.ReadAllText(dir.File("rs-again/round-1/winners.jsonl")));
    }

    [Fact]
    public void Llama2_reward_with_lora_and_bad_input_refused_in_one_line()
    {
        using var dir = new TempDir();
        AlignLoopInputs.Write(dir);
        AlignLoopInputs.RewardModel(dir);
        string[] common = ["--model", dir.File("policy"), "--prompts", dir.File("prompts.jsonl")];
        var (code, stdout, stderr) = AlignLoopInputs.Run(AlignRejectionVerb.Create(), [.. common, "--helpfulness", dir.File("rm"), "--safety", dir.File("rm"),
            "--method", "lora", "--rank", "4", "--out", dir.File("rs-lora"), .. Few]);
        Assert.True(code == 0, stderr);
        Assert.True(double.IsFinite(AlignLoopInputs.LastJson(stdout).GetProperty("best_of_k_reward").GetDouble()));
        Assert.True(File.Exists(dir.File("rs-lora/checkpoint/adapter_config.json")));
        using (var opened = AlignedModel.Open(dir.File("rs-lora"))) Assert.NotNull(opened.Adapter);   // the base from align.json, the adapter on it

        foreach (var (args, message) in new (string[], string)[]
        {
            ([.. common, "--reward", dir.File("rm"), "--helpfulness", dir.File("rm"), "--out", dir.File("bad")], "lathe: rejection: give --reward RUN, or --helpfulness RUN and --safety RUN (not both)"),
            ([.. common, "--out", dir.File("bad")], "lathe: rejection: give --reward RUN, or --helpfulness RUN and --safety RUN"),
            ([.. common, "--helpfulness", dir.File("rm"), "--out", dir.File("bad")], "lathe: rejection: --helpfulness and --safety go together"),
            ([.. common, "--reward", dir.File("rm"), "--samples", "0", "--out", dir.File("bad")], "lathe: --samples: 0 must be at least 1"),
            ([.. common, "--reward", dir.File("rm"), "--method", "prompt", "--out", dir.File("bad")], "lathe: --method prompt: rejection sampling samples through the batched engine, which does not see virtual tokens; use full, lora, qlora or adapter"),
            (["--model", dir.File("policy"), "--prompts", dir.File("absent.jsonl"), "--reward", dir.File("rm"), "--out", dir.File("bad")], null!),
            ([.. common, "--reward", dir.File("rm"), "--out", dir.File("rs-lora")], $"lathe: rejection: {dir.File("rs-lora")} already holds a checkpoint; pass --resume to continue it or choose another --out"),
        })
        {
            var (c, _, err) = AlignLoopInputs.Run(AlignRejectionVerb.Create(), args);
            Assert.Equal(2, c);
            Assert.Single(err.Trim().Split('\n'));
            if (message is not null) Assert.Equal(message, err.Trim());
            else Assert.Contains("absent.jsonl", err);
        }
        Assert.False(Directory.Exists(dir.File("bad")));
    }
}

/// <summary>`lathe align rlaif` in process: the policy's pairs judged by a model, written as preference pairs that
/// load back, the counts printed, the same seed giving the same file; one-line exit-2 refusals.</summary>
[Collection(nameof(ConsoleCapture))]
public class AlignRlaifCliTests
{
    [Fact]
    public void Judge_data_teaches_a_chat_judge_that_rlaif_asks_through_its_template()
    {
        using var dir = new TempDir();
        AlignLoopInputs.Write(dir);
        var (code, stdout, stderr) = AlignLoopInputs.Run(AlignJudgeDataVerb.Create(), "--data", dir.File("pairs.jsonl"), "--out", dir.File("judge.jsonl"));
        Assert.True(code == 0, stderr);
        Assert.Equal(24, AlignLoopInputs.LastJson(stdout).GetProperty("conversations").GetInt32());   // 12 pairs × both orders
        var conversations = ChatJsonl.Read(dir.File("judge.jsonl"));
        Assert.Equal(["A", "B"], conversations.Take(2).Select(c => c.Messages[^1].Content));
        Assert.EndsWith("Which response is better?", conversations[0].Messages[0].Content);
        (code, stdout, stderr) = AlignLoopInputs.Run(AlignRlaifVerb.Create(), "--model", dir.File("policy"), "--judge", dir.File("policy"),
            "--judge-template", "chatml", "--prompts", dir.File("prompts.jsonl"), "--max-new-tokens", "6", "--min-confidence", "0.5",
            "--out", dir.File("pairs-chat.jsonl"), "--threads", "1");
        Assert.True(code == 0, stderr);
        Assert.True(AlignLoopInputs.LastJson(stdout).GetProperty("labelled").GetInt32() > 0);
        (code, _, stderr) = AlignLoopInputs.Run(AlignRlaifVerb.Create(), "--model", dir.File("policy"), "--judge", dir.File("policy"),
            "--judge-template", "klingon", "--prompts", dir.File("prompts.jsonl"), "--out", dir.File("bad.jsonl"), "--threads", "1");
        Assert.Equal(2, code);
        Assert.Contains("--judge-template", stderr);
    }

    [Fact]
    public void Pairs_are_labelled_kept_and_load_back()
    {
        using var dir = new TempDir();
        AlignLoopInputs.Write(dir);
        string[] args = ["--model", dir.File("policy"), "--judge", dir.File("policy"), "--prompts", dir.File("prompts.jsonl"), "--max-new-tokens", "6",
            "--seed", "3", "--threads", "1"];
        var (code, stdout, stderr) = AlignLoopInputs.Run(AlignRlaifVerb.Create(), [.. args, "--min-confidence", "0.5", "--out", dir.File("all.jsonl.gz")]);
        Assert.True(code == 0, stderr);
        var json = AlignLoopInputs.LastJson(stdout);
        int labelled = json.GetProperty("labelled").GetInt32(), kept = json.GetProperty("kept").GetInt32();
        Assert.Equal(6, labelled + json.GetProperty("unjudgeable").GetInt32());
        Assert.Equal(labelled, kept);   // confidence ≥ ½ keeps every judged pair
        Assert.True(kept > 0);
        var pairs = PreferencePairs.Load(dir.File("all.jsonl.gz"));
        Assert.Equal(kept, pairs.Count);
        Assert.Contains($"{kept} kept at confidence ≥ 0.5", stderr);

        // A stricter threshold keeps a subset; the same seed writes the same pairs.
        (code, stdout, stderr) = AlignLoopInputs.Run(AlignRlaifVerb.Create(), [.. args, "--min-confidence", "0.5001", "--out", dir.File("strict.jsonl"),
            "--principles", Path.Combine(Peers.RepoRoot, "data", "alignment", "principles.md")]);
        Assert.True(code == 0, stderr);
        int strict = AlignLoopInputs.LastJson(stdout).GetProperty("kept").GetInt32();
        Assert.InRange(strict, 0, kept);
        var strictLines = File.ReadAllLines(dir.File("strict.jsonl"));
        Assert.Equal(strict, strictLines.Length);
        Assert.All(strictLines, l => Assert.True(JsonDocument.Parse(l).RootElement.GetProperty("judge_confidence").GetDouble() >= 0.5001));
        (code, _, stderr) = AlignLoopInputs.Run(AlignRlaifVerb.Create(), [.. args, "--min-confidence", "0.5001", "--out", dir.File("strict2.jsonl")]);
        Assert.True(code == 0, stderr);
        Assert.Equal(File.ReadAllBytes(dir.File("strict.jsonl")), File.ReadAllBytes(dir.File("strict2.jsonl")));   // default principles = the shipped file
        using (var gz = new System.IO.Compression.GZipStream(File.OpenRead(dir.File("all.jsonl.gz")), System.IO.Compression.CompressionMode.Decompress))
        using (var reader = new StreamReader(gz))
        {
            var all = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(all.Where(l => JsonDocument.Parse(l).RootElement.GetProperty("judge_confidence").GetDouble() >= 0.5001), strictLines);
        }
    }

    [Fact]
    public void Bad_input_is_one_line_and_exit_2()
    {
        using var dir = new TempDir();
        AlignLoopInputs.Write(dir);
        string[] common = ["--model", dir.File("policy"), "--judge", dir.File("policy"), "--prompts", dir.File("prompts.jsonl"), "--out", dir.File("out.jsonl")];
        File.WriteAllText(dir.File("empty.md"), " \n");
        foreach (var (args, message) in new (string[], string)[]
        {
            ([.. common, "--min-confidence", "0.3"], "lathe: --min-confidence: 0.3 must be in [0.5, 1]"),
            ([.. common, "--principles", dir.File("none.md")], $"lathe: --principles: {dir.File("none.md")}: file not found"),
            ([.. common, "--principles", dir.File("empty.md")], $"lathe: --principles: {dir.File("empty.md")}: the file is empty"),
            ([.. common, "--temperature", "0"], "lathe: --temperature: 0 must be a finite number > 0"),
        })
        {
            var (c, _, err) = AlignLoopInputs.Run(AlignRlaifVerb.Create(), args);
            Assert.Equal((2, message), (c, err.Trim()));
        }
        var (code, _, stderr) = AlignLoopInputs.Run(AlignRlaifVerb.Create(), ["--model", dir.File("policy"), "--judge", dir.File("nojudge"), "--prompts", dir.File("prompts.jsonl"), "--out", dir.File("out.jsonl")]);
        Assert.Equal(2, code);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains("nojudge", stderr);
        Assert.False(File.Exists(dir.File("out.jsonl")));
    }
}
