using Lathe.Alignment;
using Lathe.Formats;
using Lathe.Tests.Data;

namespace Lathe.Tests.Alignment;

/// <summary>Reading prompt sets: prompt-only lines with optional kind and answer, pair files (replies ignored), and
/// bad lines named by file, line and field.</summary>
public class PromptSetTests
{
    [Fact]
    public void Reads_prompt_only_lines_and_pair_lines()
    {
        using var dir = new TempDir();
        string path = PreferencePairsTests.Write(dir, "p.jsonl",
            """{"prompt":"What is 2 + 2?","kind":"arith","answer":"4"}""",
            """{"prompt":"How do I cut an onion?","kind":"benign"}""",
            """{"prompt":[{"role":"system","content":"S"},{"role":"user","content":"Sum 3 and 4."}],"answer":7}""",
            """{"prompt":"Capital of France?","chosen":"Paris.","rejected":"Lyon.","kind":"fact"}""");
        var prompts = PromptSet.Load(path);
        Assert.Equal(4, prompts.Count);
        Assert.Equal([new ChatMessage("user", "What is 2 + 2?")], prompts[0].Prompt);
        Assert.Equal(("arith", "4", $"{path}:1"), (prompts[0].Kind, prompts[0].Answer, prompts[0].Source));
        Assert.Equal(("benign", (string?)null), (prompts[1].Kind, prompts[1].Answer));
        Assert.Equal([new ChatMessage("system", "S"), new ChatMessage("user", "Sum 3 and 4.")], prompts[2].Prompt);
        Assert.Equal(((string?)null, "7"), (prompts[2].Kind, prompts[2].Answer));   // a number answer reads as its text
        Assert.Equal([new ChatMessage("user", "Capital of France?")], prompts[3].Prompt);
        Assert.Equal(("fact", (string?)null), (prompts[3].Kind, prompts[3].Answer));   // the replies are ignored
    }

    [Theory]
    [InlineData("""{"prompt":"a""", "invalid JSON")]
    [InlineData("""7""", "expected a JSON object")]
    [InlineData("""{"kind":"fact"}""", "missing field \"prompt\"")]
    [InlineData("""{"prompt":"   "}""", "\"prompt\" is empty")]
    [InlineData("""{"prompt":{"role":"user"}}""", "\"prompt\" must be a string or a list of messages")]
    [InlineData("""{"prompt":"a","kind":["x"]}""", "\"kind\" must be a string")]
    [InlineData("""{"prompt":"a","answer":false}""", "\"answer\" must be a string")]
    [InlineData("""{"prompt":"a","answer":""}""", "\"answer\" is empty")]
    [InlineData("""{"prompt":[{"role":"user"}]}""", "missing field prompt[0].content")]
    public void A_bad_line_is_one_error_naming_file_line_and_field(string bad, string expected)
    {
        using var dir = new TempDir();
        string path = PreferencePairsTests.Write(dir, "bad.jsonl", """{"prompt":"ok"}""", bad);
        var e = Assert.Throws<InvalidDataException>(() => PromptSet.Load(path));
        Assert.StartsWith($"data: {path}:2: ", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_file_without_prompts_is_an_error()
    {
        using var dir = new TempDir();
        string path = PreferencePairsTests.Write(dir, "empty.jsonl", "");
        Assert.Equal($"data: {path}: no prompts", Assert.Throws<InvalidDataException>(() => PromptSet.Load(path)).Message);
    }
}
