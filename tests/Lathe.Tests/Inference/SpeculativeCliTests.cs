using System.Text.Json;
using Lathe.Tests.Cli;

namespace Lathe.Tests.Inference;

/// <summary>`lathe generate --draft` as a user runs it (the CLI as a child process, tiny checkpoints made here): greedy
/// output identical to generating without the draft, the acceptance rate on stderr, sampled output reproducible by seed,
/// and one-line exit-2 refusals (a draft with another tokenizer, --draft-tokens out of range, --draft with --beams).</summary>
public class SpeculativeCliTests
{
    // vocab_size = the tokenizer's 290, so that sampling from these random weights never picks a padding id with no text.
    static readonly Lathe.Models.ModelConfig Target = ModelLoaderTests.Gpt2Tiny with { VocabSize = 290, Layers = 2 };
    static readonly Lathe.Models.ModelConfig Draft = Target with { Embd = 16, Heads = 1, KvHeads = 1, Intermediate = 32, Layers = 1 };

    static int[] Tokens(string json) =>
        JsonDocument.Parse(json).RootElement.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray();

    [Fact]
    public void Generate_with_a_draft_gives_the_greedy_output_and_reports_acceptance()
    {
        using var lathe = new LatheProcess();
        ModelLoaderTests.WriteCheckpoint(lathe.PathOf("target"), Target, seed: 7);
        ModelLoaderTests.WriteCheckpoint(lathe.PathOf("draft"), Draft, seed: 8);
        string[] common = ["generate", "--model", "target", "--prompt", "the whale", "--max-tokens", "20", "--threads", "1", "--json"];

        string plain = lathe.RunOk([.. common, "--temperature", "0"]);
        var (code, withDraft, stderr) = lathe.Run([.. common, "--temperature", "0", "--draft", "draft", "--draft-tokens", "3"]);
        Assert.True(code == 0, stderr);
        Assert.Equal(Tokens(plain), Tokens(withDraft));
        Assert.Equal(JsonDocument.Parse(plain).RootElement.GetProperty("text").GetString(), JsonDocument.Parse(withDraft).RootElement.GetProperty("text").GetString());
        Assert.Matches(@"generate: draft .*draft: \d+ of \d+ proposed tokens accepted \(\d+\.\d%\), \d+ target passes for \d+ tokens", stderr);

        // The target as its own draft accepts everything: 20 tokens in 5 passes of 3 proposals + 1.
        var (_, self, selfErr) = lathe.Run([.. common, "--temperature", "0", "--draft", "target", "--draft-tokens", "3"]);
        Assert.Equal(Tokens(plain), Tokens(self));
        Assert.Contains("(100.0%), 5 target passes for 20 tokens", selfErr);

        // Sampled: the same seed, the same text.
        string[] sampled = [.. common, "--temperature", "0.9", "--seed", "5", "--draft", "draft"];
        var first = Tokens(lathe.RunOk(sampled));
        Assert.Equal(20, first.Length);
        Assert.Equal(first, Tokens(lathe.RunOk(sampled)));

        // Streaming without --json prints the text.
        Assert.Contains(JsonDocument.Parse(plain).RootElement.GetProperty("text").GetString()!.Trim(),
            lathe.RunOk("generate", "--model", "target", "--prompt", "the whale", "--max-tokens", "20", "--threads", "1", "--temperature", "0", "--draft", "draft"));
    }

    [Fact]
    public void Bad_draft_input_is_one_line_and_exit_2()
    {
        using var lathe = new LatheProcess();
        ModelLoaderTests.WriteCheckpoint(lathe.PathOf("target"), seed: 7);
        ModelLoaderTests.WriteCheckpoint(lathe.PathOf("other"), Draft with { VocabSize = 300 }, tokenizerSize: 295, seed: 8);
        string[] common = ["generate", "--model", "target", "--prompt", "the whale", "--max-tokens", "4", "--threads", "1"];
        foreach (var (args, expected) in new (string[], string)[]
        {
            (["--draft", "other"], "tokens and the target's"),
            (["--draft", "target", "--draft-tokens", "0"], "--draft-tokens 0 must be in 1-16"),
            (["--draft", "target", "--beams", "2"], "--draft and --beams cannot be combined"),
            (["--draft", "missing"], "missing"),
        })
        {
            var (code, stdout, stderr) = lathe.Run([.. common, .. args]);
            Assert.Equal(2, code);
            Assert.Contains(expected, stderr);
            Assert.Single(stderr.Trim().Split('\n'));
            Assert.Equal("", stdout);
        }
    }
}
