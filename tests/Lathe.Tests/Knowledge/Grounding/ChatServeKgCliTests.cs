using System.CommandLine;
using Lathe.Cli;
using Lathe.Cli.Verbs;
using Lathe.Tests.Cli;
using Lathe.Tests.Data;
using Lathe.Tests.Inference;

namespace Lathe.Tests.Knowledge.Grounding;

/// <summary>`lathe chat --kg` in process (user turns on stdin): each turn grounded — a constrained answer from the
/// graph, an abstention for an entity it does not hold; and `serve --kg` refusing a bad graph before it listens.</summary>
[Collection(nameof(ConsoleCapture))]
public class ChatServeKgCliTests
{
    [Fact]
    public void Chat_grounds_every_user_turn()
    {
        using var dir = new TempDir();
        ModelLoaderTests.WriteCheckpoint(dir.File("model"), ModelLoaderTests.Gpt2Tiny with { VocabSize = 290, MaxPositions = 256 }, seed: 7);
        GroundingFixtures.WriteStore(dir.File("g.db"));
        var root = new Command("lathe") { ChatVerb.Create() };
        var input = Console.In;
        Console.SetIn(new StringReader("What is the capital of France?\nWhat is the capital of Atlantis?\nWhat is the capital of Spain?\n"));
        int code;
        string stdout, stderr;
        try
        {
            using var capture = new ConsoleCapture();
            code = CliRunner.Run(root, ["chat", "--model", dir.File("model"), "--kg", dir.File("g.db"), "--kg-mode", "constrain",
                "--threads", "1", "--temperature", "1", "--seed", "2", "--max-tokens", "20"]);
            (stdout, stderr) = (capture.Stdout, capture.Stderr);
        }
        finally { Console.SetIn(input); }
        Assert.True(code == 0, stderr);
        Assert.Equal(["Paris", "I don't know.", "Madrid"], stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).Where(l => l.Length > 0));
        Assert.Contains("chat: kg: abstained: 'Atlantis' is not an entity of the graph", stderr);
        Assert.Contains("chat: kg: country/ESP capital, 0 facts, answer constrained to the graph", stderr);
    }

    [Fact]
    public void Serve_refuses_a_bad_graph_before_listening()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("bad.db"), "not a graph");
        var root = new Command("lathe") { ServeVerb.Create() };
        foreach (var (args, expected) in new (string[], string)[]
        {
            (["--kg", dir.File("absent.db")], "serve: --kg " + dir.File("absent.db")),
            (["--kg", dir.File("bad.db")], "serve: --kg " + dir.File("bad.db")),
            (["--kg", dir.File("bad.db"), "--kg-mode", "x"], "serve: --kg-mode 'x' must be retrieve, constrain or both."),
        })
        {
            using var capture = new ConsoleCapture();
            int code = CliRunner.Run(root, ["serve", "--model", dir.File("no-model"), "--port", "0", .. args]);
            Assert.Equal(2, code);
            Assert.Contains(expected, capture.Stderr);
            Assert.Single(capture.Stderr.Trim().Split('\n'));
        }
    }
}
