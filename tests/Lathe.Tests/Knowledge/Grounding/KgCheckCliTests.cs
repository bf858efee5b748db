using System.CommandLine;
using System.Text.Json;
using Lathe.Cli;
using Lathe.Cli.Verbs;
using Lathe.Knowledge;
using Lathe.Knowledge.Store;
using Lathe.Tests.Cli;
using Lathe.Tests.Data;

namespace Lathe.Tests.Knowledge.Grounding;

/// <summary>`lathe kg check` in process (the verb under a `kg` root, run through CliRunner): one line per claim with
/// its status and the graph's values, the JSON form, answers to a question, and one-line exit-2 refusals of bad input.
/// The graph is the hand-written fixture, imported into a real store file.</summary>
[Collection(nameof(ConsoleCapture))]
public class KgCheckCliTests
{
    static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var root = new Command("lathe") { new Command("kg") { KgCheckVerb.Create() } };
        using var capture = new ConsoleCapture();
        int code = CliRunner.Run(root, ["kg", "check", .. args]);
        return (code, capture.Stdout, capture.Stderr);
    }

    [Fact]
    public void Each_claim_is_one_line_with_its_status_and_the_graphs_values()
    {
        using var dir = new TempDir();
        GroundingFixtures.WriteStore(dir.File("g.db"));
        var (code, stdout, stderr) = Run("--db", dir.File("g.db"), "--text",
            "The capital of France is Paris. The capital of Spain is Barcelona. The capital of Belgium is Brussels.");
        Assert.True(code == 0, stderr);
        Assert.Equal([
            "supported: France capital = Paris (graph: Paris)",
            "contradicted: Spain capital = Barcelona (graph: Madrid)",
            "unknown: Belgium capital = Brussels (graph: nothing)",
        ], stdout.TrimEnd().Split('\n'));
        Assert.Equal("kg check: 3 claims: 1 supported, 1 contradicted, 1 unknown", stderr.Trim());
    }

    [Fact]
    public void Json_lists_the_claims_and_counts()
    {
        using var dir = new TempDir();
        GroundingFixtures.WriteStore(dir.File("g.db"));
        File.WriteAllText(dir.File("answer.txt"), "France borders Spain, Italy and Portugal.\nThe area of France is 551,695 square kilometres.");
        var (code, stdout, stderr) = Run("--db", dir.File("g.db"), "--file", dir.File("answer.txt"), "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal((3, 1, 0), (root.GetProperty("supported").GetInt32(), root.GetProperty("contradicted").GetInt32(), root.GetProperty("unknown").GetInt32()));
        var portugal = root.GetProperty("claims")[2];
        Assert.Equal(("contradicted", "country/FRA", "borders", "Portugal", "country/PRT"),
            (portugal.GetProperty("status").GetString(), portugal.GetProperty("subject").GetString(), portugal.GetProperty("relation").GetString(),
             portugal.GetProperty("object").GetString(), portugal.GetProperty("object_term").GetString()));
        Assert.Equal(["Belgium", "Germany", "Spain", "Italy"], portugal.GetProperty("graph").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal("France borders Spain, Italy and Portugal.", portugal.GetProperty("text").GetString());
        var area = root.GetProperty("claims")[3];
        Assert.Equal(("supported", "551,695", "\"551695\"^Number"),
            (area.GetProperty("status").GetString(), area.GetProperty("object").GetString(), area.GetProperty("object_term").GetString()));
    }

    [Fact]
    public void An_answer_is_checked_against_its_question()
    {
        using var dir = new TempDir();
        GroundingFixtures.WriteStore(dir.File("g.db"));
        var (code, stdout, _) = Run("--db", dir.File("g.db"), "--question", "What is the capital of Italy?", "--text", "Milan");
        Assert.Equal((0, "contradicted: Italy capital = Milan (graph: Rome)"), (code, stdout.Trim()));
        (code, stdout, var stderr) = Run("--db", dir.File("g.db"), "--question", "What is the capital of Italy?", "--text", "I don't know.");
        Assert.Equal((0, "", "kg check: 0 claims: 0 supported, 0 contradicted, 0 unknown"), (code, stdout, stderr.Trim()));
    }

    [Fact]
    public void Bad_input_is_one_line_and_exit_2()
    {
        using var dir = new TempDir();
        GroundingFixtures.WriteStore(dir.File("g.db"));
        File.WriteAllText(dir.File("not-a-graph.db"), "hello");
        foreach (var (args, expected) in new (string[], string)[]
        {
            (["--db", dir.File("g.db")], "kg check: give exactly one of --text or --file."),
            (["--db", dir.File("g.db"), "--text", "x", "--file", "y"], "kg check: give exactly one of --text or --file."),
            (["--db", dir.File("g.db"), "--file", dir.File("absent.txt")], $"kg check: --file {dir.File("absent.txt")}: no such file."),
            (["--db", dir.File("absent.db"), "--text", "x"], dir.File("absent.db")),
            (["--db", dir.File("not-a-graph.db"), "--text", "x"], dir.File("not-a-graph.db")),
            (["--text", "x"], Path.Combine("runs", "kg", "graph.db")),   // the default graph, absent here
        })
        {
            var (code, stdout, stderr) = Run(args);
            Assert.Equal(2, code);
            Assert.Contains(expected, stderr);
            Assert.Single(stderr.Trim().Split('\n'));
            Assert.Equal("", stdout);
        }
    }
}
