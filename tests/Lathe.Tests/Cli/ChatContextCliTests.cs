using System.CommandLine;
using Lathe.Cli;
using Lathe.Cli.Verbs;
using Lathe.Tests.Data;
using Lathe.Tests.Inference;

namespace Lathe.Tests.Cli;

/// <summary>`lathe chat` with its defaults on a model whose context (128) is shorter than the default reply length
/// (256) — the demo's situation: a scripted conversation longer than the context runs to the end, the replies fitted
/// into the room left and the oldest turns dropped with a note, instead of the first message being refused; `generate`
/// caps a length the context cannot hold, with a note.</summary>
[Collection(nameof(ConsoleCapture))]
public class ChatContextCliTests
{
    [Fact]
    public void Chat_with_defaults_fits_replies_and_drops_old_turns_instead_of_refusing()
    {
        using var dir = new TempDir();
        ModelLoaderTests.WriteCheckpoint(dir.File("model"), ModelLoaderTests.Gpt2Tiny with { VocabSize = 290, MaxPositions = 128 }, seed: 7);
        var root = new Command("lathe") { ChatVerb.Create() };
        var input = Console.In;
        string turns = string.Concat(Enumerable.Range(0, 5).Select(i => $"Tell me about whales, part {i}.\n")) + new string('z', 400) + "\nOne more.\n";
        Console.SetIn(new StringReader(turns));
        int code;
        string stdout, stderr;
        try
        {
            using var capture = new ConsoleCapture();
            code = CliRunner.Run(root, ["chat", "--model", dir.File("model"), "--threads", "1", "--seed", "3"]);
            (stdout, stderr) = (capture.Stdout, capture.Stderr);
        }
        finally { Console.SetIn(input); }
        Assert.True(code == 0, stderr);
        Assert.Contains("chat: replies are limited by the context of 128 tokens", stderr);
        Assert.Contains("chat: the history outgrew the context of 128 tokens; dropped the", stderr);
        // The over-long message is refused on one line and the conversation goes on: six replies for six turns.
        Assert.Contains("chat: the message takes", stderr);
        Assert.Equal(6, stderr.Split('\n').Count(l => l.StartsWith("chat: ") && l.Contains("new prompt tokens")));
    }

    [Fact]
    public void Generate_caps_the_length_at_the_context_with_a_note()
    {
        using var dir = new TempDir();
        ModelLoaderTests.WriteCheckpoint(dir.File("model"), ModelLoaderTests.Gpt2Tiny with { VocabSize = 290, MaxPositions = 128 }, seed: 7);
        var root = new Command("lathe") { GenerateVerb.Create() };
        using var capture = new ConsoleCapture();
        int code = CliRunner.Run(root, ["generate", "--model", dir.File("model"), "--prompt-ids", "1 2 3 4 5 6 7 8", "--max-tokens", "500",
            "--threads", "1", "--temperature", "0", "--json"]);
        Assert.True(code == 0, capture.Stderr);
        Assert.Contains("generate: the context of 128 tokens leaves 120 after the prompt; generating at most 120 (--max-tokens 500)", capture.Stderr);
        using var result = System.Text.Json.JsonDocument.Parse(capture.Stdout);
        Assert.True(result.RootElement.GetProperty("tokens").GetArrayLength() <= 120);
    }
}
