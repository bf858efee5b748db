using System.CommandLine;
using System.Text.Json;
using Lathe.Cli;
using Lathe.Cli.Verbs;
using Lathe.Tests.Cli;
using Lathe.Tests.Data;
using Lathe.Tests.Inference;

namespace Lathe.Tests.Knowledge.Grounding;

/// <summary>`lathe generate --kg` in process on a tiny random checkpoint and the fixture graph: constrained answers are
/// the graph's whatever the weights want, an unanswerable question abstains without the model, retrieval reports its
/// facts, and bad --kg input is one line and exit 2.</summary>
[Collection(nameof(ConsoleCapture))]
public class GenerateKgCliTests
{
    static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var root = new Command("lathe") { GenerateVerb.Create() };
        using var capture = new ConsoleCapture();
        int code = CliRunner.Run(root, ["generate", .. args]);
        return (code, capture.Stdout, capture.Stderr);
    }

    static TempDir Setup()
    {
        var dir = new TempDir();
        ModelLoaderTests.WriteCheckpoint(dir.File("model"), ModelLoaderTests.Gpt2Tiny with { VocabSize = 290, MaxPositions = 256 }, seed: 7);
        GroundingFixtures.WriteStore(dir.File("g.db"));
        return dir;
    }

    [Fact]
    public void Constrained_answers_are_the_graphs_for_every_seed()
    {
        using var dir = Setup();
        foreach (var (question, answers) in new (string, string[])[]
        {
            ("What is the capital of France?", ["Paris"]),
            ("Which countries border France?", ["Belgium", "Germany", "Spain", "Italy"]),
            ("What is the area of Spain?", ["505990", "505,990"]),
        })
            for (int seed = 0; seed < 4; seed++)
            {
                var (code, stdout, stderr) = Run("--model", dir.File("model"), "--kg", dir.File("g.db"), "--kg-mode", "constrain",
                    "--prompt", question, "--json", "--threads", "1", "--temperature", "1", "--seed", seed.ToString(), "--max-tokens", "30");
                Assert.True(code == 0, stderr);
                using var json = JsonDocument.Parse(stdout);
                Assert.Contains(json.RootElement.GetProperty("text").GetString()!.Trim(), answers);
                Assert.Contains("answer constrained to the graph", stderr);
            }
    }

    [Fact]
    public void An_unanswerable_question_abstains_without_the_model()
    {
        using var dir = Setup();
        var (code, stdout, stderr) = Run("--model", dir.File("model"), "--kg", dir.File("g.db"), "--prompt", "What is the capital of Atlantis?", "--threads", "1");
        Assert.Equal((0, "I don't know."), (code, stdout.Trim()));
        Assert.Contains("generate: kg: abstained: 'Atlantis' is not an entity of the graph", stderr);
        (code, stdout, stderr) = Run("--model", dir.File("model"), "--kg", dir.File("g.db"), "--prompt", "What is the capital of Ukraine?", "--threads", "1", "--json");
        using var json = JsonDocument.Parse(stdout);
        Assert.Equal(("I don't know.", "Abstained", 0), (json.RootElement.GetProperty("text").GetString(), json.RootElement.GetProperty("stop_reason").GetString(),
            json.RootElement.GetProperty("tokens").GetArrayLength()));
        Assert.Contains("abstained: the graph has no capital for Ukraine", stderr);
    }

    [Fact]
    public void Retrieval_puts_the_facts_in_the_prompt_and_says_so()
    {
        using var dir = Setup();
        var (code, stdout, stderr) = Run("--model", dir.File("model"), "--kg", dir.File("g.db"), "--kg-mode", "retrieve", "--kg-budget", "60",
            "--prompt", "What is the capital of Italy?", "--threads", "1", "--json", "--temperature", "0", "--max-tokens", "5");
        Assert.True(code == 0, stderr);
        Assert.Contains("generate: kg: country/ITA capital, 1 facts", stderr);
        Assert.DoesNotContain("constrained", stderr);
        // The prompt grew by the facts: "prompt N tokens" on stderr is the grounded prompt's length.
        var tokens = int.Parse(System.Text.RegularExpressions.Regex.Match(stderr, @"prompt (\d+) tokens").Groups[1].Value);
        var tokenizer = Lathe.Tokenizers.TokenizerJson.Load(dir.File("model/tokenizer.json"));
        Assert.Equal(tokenizer.Encode("Facts:\n- The capital of Italy is Rome.\nQuestion: What is the capital of Italy?\nAnswer:").Count, tokens);
        Assert.DoesNotContain("\n", JsonDocument.Parse(stdout).RootElement.GetProperty("text").GetString());   // one line
    }

    [Fact]
    public void Bad_kg_input_is_one_line_and_exit_2()
    {
        using var dir = Setup();
        string[] common = ["--model", dir.File("model"), "--threads", "1"];
        foreach (var (args, expected) in new (string[], string)[]
        {
            (["--kg", dir.File("g.db"), "--kg-mode", "guess", "--prompt", "x"], "generate: --kg-mode 'guess' must be retrieve, constrain or both."),
            (["--kg", dir.File("g.db"), "--kg-budget", "-1", "--prompt", "x"], "generate: --kg-budget -1 must be ≥ 0."),
            (["--kg", dir.File("g.db"), "--prompt-ids", "1 2"], "generate: --kg needs --prompt"),
            (["--kg", dir.File("g.db"), "--prompt", "x", "--beams", "2"], "cannot be combined with --beams or --draft"),
            (["--kg", dir.File("absent.db"), "--prompt", "x"], "generate: --kg " + dir.File("absent.db")),
        })
        {
            var (code, stdout, stderr) = Run([.. common, .. args]);
            Assert.Equal(2, code);
            Assert.Contains(expected, stderr);
            Assert.Single(stderr.Trim().Split('\n'));
            Assert.Equal("", stdout);
        }
    }
}
