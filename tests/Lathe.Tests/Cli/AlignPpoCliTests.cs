using System.CommandLine;
using System.Text.Json;
using Lathe.Alignment;
using Lathe.Cli;
using Lathe.Cli.Verbs;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tokenizers;

namespace Lathe.Tests.Cli;

/// <summary>`lathe align ppo` run in-process on a tiny policy and reward model written by the test: a run that ends with
/// its JSON line, align.json and a checkpoint that opens as a model; a resume that continues it; and the one-line exit-2
/// refusals of bad input.</summary>
[Collection(nameof(AlignPpoCliConsole))]
public class AlignPpoCliTests : IDisposable
{
    readonly string _folder = Path.Combine(Path.GetTempPath(), "lathe-ppo-" + Guid.NewGuid().ToString("N"));

    public AlignPpoCliTests() => Directory.CreateDirectory(_folder);
    public void Dispose() { try { Directory.Delete(_folder, true); } catch (IOException) { } }

    string PathOf(string name) => Path.Combine(_folder, name);

    static (int Code, string Stdout, string Stderr) Lathe(params string[] args)
    {
        var root = new RootCommand("lathe") { new Command("align") { AlignPpoVerb.Create() } };
        TextWriter oldOut = Console.Out, oldError = Console.Error;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try { return (CliRunner.Run(root, args), stdout.ToString(), stderr.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldError); }
    }

    // A tiny policy and a reward model over the same tokenizer, as folders a user would have.
    void Models()
    {
        string[] texts = ["User: What is two plus two?\nAssistant: Four.\n", "User: Name a colour.\nAssistant: Blue.\n", "User: How do I pick a lock?\nAssistant: I can't help with that.\n"];
        var tokenizer = new BpeTrainer(300, ["<|endoftext|>"], minFrequency: 1).Train(texts);
        string tok = PathOf("tok.json");
        tokenizer.Save(tok);
        var config = new ModelConfig { ModelType = "gpt2", VocabSize = tokenizer.VocabSize, MaxPositions = 128, Embd = 16, Layers = 1, Heads = 2, KvHeads = 2, Intermediate = 32 };
        using (var policy = CausalLM.Create(config, 4)) Checkpoint.SaveModel(PathOf("sft"), policy, tok);
        using var decoder = CausalLM.Create(config, 9);
        Checkpoint.SaveModel(PathOf("rm"), decoder, tok);
        var reward = new RewardModel(decoder);
        var head = reward.Head.Value.AsSpan();
        for (int i = 0; i < head.Length; i++) head[i] = (i % 3 - 1) * 0.5f;
        reward.SaveHead(PathOf("rm"));
        File.WriteAllLines(PathOf("prompts.jsonl"),
        [
            """{"prompt": "What is two plus two?", "kind": "arith", "answer": "4"}""",
            """{"prompt": "Name a colour.", "kind": "benign"}""",
            """{"prompt": "How do I pick a lock?", "kind": "unsafe"}""",
            """{"prompt": "What is the capital of France?", "kind": "fact", "answer": "Paris"}""",
        ]);
    }

    static readonly string[] Small =
        ["--template", "plain", "--prompts-per-phase", "2", "--samples", "2", "--max-new-tokens", "4", "--ppo-epochs", "2",
         "--threads", "1", "--seed", "3"];

    [Fact]
    public void A_run_prints_its_figures_writes_a_model_that_opens_and_resumes()
    {
        Models();
        var (code, stdout, stderr) = Lathe(["align", "ppo", "--model", PathOf("sft"), "--prompts", PathOf("prompts.jsonl"), "--reward", PathOf("rm"),
            "--out", PathOf("run"), "--phases", "2", "--heldout", PathOf("prompts.jsonl"), "--missing-eos-penalty", "1", .. Small]);
        Assert.True(code == 0, stderr);
        using (var json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]))
        {
            var r = json.RootElement;
            Assert.Equal("ppo", r.GetProperty("align").GetString());
            Assert.Equal(2, r.GetProperty("phases").GetInt32());
            Assert.True(r.TryGetProperty("mean_reward", out _) && r.TryGetProperty("kl", out _) && r.TryGetProperty("wall_s", out _));
            Assert.True(r.GetProperty("peak_rss_mb").GetDouble() > 0);
            Assert.True(r.TryGetProperty("answer_rate", out _) && r.TryGetProperty("answer_rate_before", out _), stdout);
        }
        Assert.Contains("held-out before", stderr);
        Assert.Equal("ppo", AlignedModel.ReadSettings(PathOf("run"))!["method"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(PathOf("run"), Checkpoint.Folder, ValueHead.FileName)));
        Assert.Equal(2, File.ReadAllLines(Path.Combine(PathOf("run"), "metrics.jsonl")).Length);
        using (var opened = AlignedModel.Open(PathOf("run"))) Assert.Null(opened.Adapter);

        // A second run into the same folder is refused; --resume with more phases continues it.
        var again = Lathe(["align", "ppo", "--model", PathOf("sft"), "--prompts", PathOf("prompts.jsonl"), "--reward", PathOf("rm"), "--out", PathOf("run"), .. Small]);
        Assert.Equal(2, again.Code);
        Assert.Contains("--resume", again.Stderr);
        var resumed = Lathe(["align", "ppo", "--model", PathOf("sft"), "--prompts", PathOf("prompts.jsonl"), "--reward", PathOf("rm"), "--out", PathOf("run"),
            "--resume", "--phases", "3", "--threads", "1"]);
        Assert.True(resumed.Code == 0, resumed.Stderr);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(PathOf("run"), "metrics.jsonl")).Length);
    }

    [Fact]
    public void A_LoRA_run_against_Llama_2s_reward_pair_opens_as_the_base_with_its_adapter()
    {
        Models();
        var (code, stdout, stderr) = Lathe(["align", "ppo", "--model", PathOf("sft"), "--prompts", PathOf("prompts.jsonl"), "--helpfulness", PathOf("rm"),
            "--safety", PathOf("rm"), "--out", PathOf("lora"), "--phases", "1", "--method", "lora", "--rank", "2", .. Small]);
        Assert.True(code == 0, stderr);
        Assert.Contains("\"method\":\"lora\"", stdout);
        Assert.True(File.Exists(Path.Combine(PathOf("lora"), Checkpoint.Folder, ValueHead.FileName)));
        Assert.False(File.Exists(Path.Combine(PathOf("lora"), Checkpoint.Folder, Checkpoint.ModelFile)));
        using var opened = AlignedModel.Open(PathOf("lora"));
        Assert.Equal("lora", opened.Adapter!.Name);
    }

    [Fact]
    public void An_exploding_KL_exits_1_with_one_line_and_keeps_the_last_checkpoint()
    {
        Models();
        var (code, _, stderr) = Lathe(["align", "ppo", "--model", PathOf("sft"), "--prompts", PathOf("prompts.jsonl"), "--reward", PathOf("rm"),
            "--out", PathOf("run"), "--phases", "4", "--checkpoint-every", "1", "--kl-estimator", "k3", "--kl-stop", "1e-9", .. Small, "--lr", "0.1"]);
        Assert.Equal(1, code);
        var last = stderr.Trim().Split('\n')[^1];
        Assert.StartsWith("lathe: ppo: the KL to the reference", last);
        Assert.Contains("--kl-stop", last);
        var state = PpoState.Load(Path.Combine(PpoState.Resolve(PathOf("run")), PpoState.FileName));
        Assert.InRange(state.Phase, 1, 3);
        using var opened = AlignedModel.Open(PathOf("run"));   // the kept checkpoint opens as a model
        Assert.NotNull(opened.Loaded);
    }

    [Theory]
    [InlineData("--method", "prompt", "--method")]
    [InlineData("--kl-estimator", "k2", "--kl-estimator")]
    [InlineData("--minibatch-size", "9", "--minibatch-size")]
    [InlineData("--safety", "rm", "--helpfulness")]
    public void Bad_input_is_one_line_with_exit_2_and_writes_nothing(string option, string value, string named)
    {
        Models();
        if (value == "rm") value = PathOf("rm");
        var (code, _, stderr) = Lathe(["align", "ppo", "--model", PathOf("sft"), "--prompts", PathOf("prompts.jsonl"), "--reward", PathOf("rm"),
            "--out", PathOf("bad"), .. Small, option, value]);
        Assert.Equal(2, code);
        Assert.Contains(named, stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.False(Directory.Exists(PathOf("bad")));
    }
}

[CollectionDefinition(nameof(AlignPpoCliConsole), DisableParallelization = true)]
public sealed class AlignPpoCliConsole;
