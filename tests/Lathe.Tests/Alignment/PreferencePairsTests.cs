using System.IO.Compression;
using Lathe.Alignment;
using Lathe.Formats;
using Lathe.Tests.Data;

namespace Lathe.Tests.Alignment;

/// <summary>Reading preference pairs: TRL's string and conversational shapes, gzip, and every bad line named by file,
/// line and field in one line.</summary>
public class PreferencePairsTests
{
    internal static string Write(TempDir dir, string name, params string[] lines)
    {
        string path = dir.File(name);
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    [Fact]
    public void Reads_string_and_conversational_pairs()
    {
        using var dir = new TempDir();
        string path = Write(dir, "p.jsonl",
            """{"prompt":"Capital of France?","chosen":"Paris.","rejected":"Lyon.","kind":"fact"}""",
            "",
            """{"prompt":[{"role":"system","content":"Be brief."},{"role":"user","content":"2+2?"}],"chosen":[{"role":"assistant","content":"4"}],"rejected":[{"role":"assistant","content":"5"}]}""",
            // TRL's conversational form may repeat the prompt before the reply.
            """{"prompt":[{"role":"user","content":"Hi"}],"chosen":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello."}],"rejected":"Go away.","kind":null}""");
        var pairs = PreferencePairs.Load(path);
        Assert.Equal(3, pairs.Count);
        Assert.Equal([new ChatMessage("user", "Capital of France?")], pairs[0].Prompt);
        Assert.Equal(("Paris.", "Lyon.", "fact"), (pairs[0].Chosen, pairs[0].Rejected, pairs[0].Kind));
        Assert.Equal($"{path}:1", pairs[0].Source);
        Assert.Equal([new ChatMessage("system", "Be brief."), new ChatMessage("user", "2+2?")], pairs[1].Prompt);
        Assert.Equal(("4", "5", (string?)null), (pairs[1].Chosen, pairs[1].Rejected, pairs[1].Kind));
        Assert.Equal($"{path}:3", pairs[1].Source);
        Assert.Equal(("Hello.", "Go away."), (pairs[2].Chosen, pairs[2].Rejected));
    }

    [Fact]
    public void Reads_gzipped_files()
    {
        using var dir = new TempDir();
        string path = dir.File("p.jsonl.gz");
        using (var gz = new GZipStream(File.Create(path), CompressionLevel.Optimal))
        using (var w = new StreamWriter(gz))
            w.Write("""{"prompt":"a","chosen":"b","rejected":"c"}""" + "\n");
        Assert.Equal("c", PreferencePairs.Load(path)[0].Rejected);
    }

    [Theory]
    [InlineData("{\"prompt\":\"a\",\"chosen\":\"b\",\"rejected\":\"c", "invalid JSON")]
    [InlineData("""["a","b","c"]""", "expected a JSON object")]
    [InlineData("""{"chosen":"b","rejected":"c"}""", "missing field \"prompt\"")]
    [InlineData("""{"prompt":"a","rejected":"c"}""", "missing field \"chosen\"")]
    [InlineData("""{"prompt":"a","chosen":"b"}""", "missing field \"rejected\"")]
    [InlineData("""{"prompt":"a","chosen":"","rejected":"c"}""", "\"chosen\" is an empty response")]
    [InlineData("""{"prompt":"a","chosen":"b","rejected":"  "}""", "\"rejected\" is an empty response")]
    [InlineData("""{"prompt":"a","chosen":[{"role":"assistant","content":""}],"rejected":"c"}""", "\"chosen\" is an empty response")]
    [InlineData("""{"prompt":"a","chosen":"same","rejected":"same"}""", "\"chosen\" and \"rejected\" are the same response")]
    [InlineData("""{"prompt":3,"chosen":"b","rejected":"c"}""", "\"prompt\" must be a string or a list of messages")]
    [InlineData("""{"prompt":"","chosen":"b","rejected":"c"}""", "\"prompt\" is empty")]
    [InlineData("""{"prompt":"a","chosen":true,"rejected":"c"}""", "\"chosen\" must be a string or a list of messages")]
    [InlineData("""{"prompt":"a","chosen":"b","rejected":"c","kind":7}""", "\"kind\" must be a string")]
    [InlineData("""{"prompt":[],"chosen":"b","rejected":"c"}""", "empty conversation (\"prompt\" is [])")]
    [InlineData("""{"prompt":[{"role":"user","content":"a"},{"role":"assistant","content":"x"}],"chosen":"b","rejected":"c"}""", "the prompt's last message must be the user's, not the assistant's")]
    [InlineData("""{"prompt":[{"role":"robot","content":"a"}],"chosen":"b","rejected":"c"}""", "prompt[0]: unknown role 'robot'")]
    [InlineData("""{"prompt":[{"role":"user","content":3}],"chosen":"b","rejected":"c"}""", "prompt[0].content must be a string")]
    [InlineData("""{"prompt":"a","chosen":[{"role":"user","content":"b"}],"rejected":"c"}""", "\"chosen\": the last message must be the assistant's reply, not the user's")]
    [InlineData("""{"prompt":"a","chosen":"b","rejected":[{"role":"user","content":"other"},{"role":"assistant","content":"c"}]}""", "\"rejected\": the messages before the reply are not the prompt")]
    public void A_bad_line_is_one_error_naming_file_line_and_field(string bad, string expected)
    {
        using var dir = new TempDir();
        string path = Write(dir, "bad.jsonl", """{"prompt":"ok","chosen":"yes","rejected":"no"}""", "", bad);
        var e = Assert.Throws<InvalidDataException>(() => PreferencePairs.Load(path));
        Assert.StartsWith($"data: {path}:3: ", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void An_empty_or_missing_file_is_an_error()
    {
        using var dir = new TempDir();
        string path = Write(dir, "empty.jsonl", "", " ");
        Assert.Equal($"data: {path}: no preference pairs", Assert.Throws<InvalidDataException>(() => PreferencePairs.Load(path)).Message);
        string missing = dir.File("nope.jsonl");
        Assert.Equal($"data: {missing}: no such file", Assert.Throws<FileNotFoundException>(() => PreferencePairs.Load(missing)).Message);
    }
}
