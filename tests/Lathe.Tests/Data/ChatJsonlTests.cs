using System.IO.Compression;
using Lathe.Data;
using Lathe.Formats;

namespace Lathe.Tests.Data;

/// <summary>Reading fine-tuning conversations: both JSONL shapes, and every kind of bad line named by file and line.</summary>
public class ChatJsonlTests
{
    static string Write(TempDir dir, string name, params string[] lines)
    {
        string path = dir.File(name);
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    [Fact]
    public void Reads_chat_and_prompt_completion_lines_skipping_blank_ones()
    {
        using var dir = new TempDir();
        string path = Write(dir, "d.jsonl",
            """{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello."},{"role":"user","content":"2+2?"},{"role":"assistant","content":"4"}]}""",
            "",
            "   ",
            """{"prompt":"Capital of France?","completion":"Paris."}""");
        var all = ChatJsonl.Read(path);
        Assert.Equal(2, all.Count);
        Assert.Equal($"{path}:1", all[0].Source);
        Assert.Equal(5, all[0].Messages.Count);
        Assert.Equal(new ChatMessage("assistant", "4"), all[0].Messages[^1]);
        Assert.Equal($"{path}:4", all[1].Source);
        Assert.Equal([new ChatMessage("user", "Capital of France?"), new ChatMessage("assistant", "Paris.")], all[1].Messages);
    }

    [Fact]
    public void Reads_gzipped_files()
    {
        using var dir = new TempDir();
        string path = dir.File("d.jsonl.gz");
        using (var gz = new GZipStream(File.Create(path), CompressionLevel.Optimal))
        using (var w = new StreamWriter(gz))
            w.Write("""{"prompt":"a","completion":"b"}""" + "\n");
        Assert.Equal("b", ChatJsonl.Read(path)[0].Messages[1].Content);
    }

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"Hi"}""", "invalid JSON")]
    [InlineData("""["prompt","completion"]""", "expected a JSON object")]
    [InlineData("""{"messages":[{"role":"robot","content":"Hi"},{"role":"assistant","content":"x"}]}""", "messages[0]: unknown role 'robot'")]
    [InlineData("""{"messages":[{"role":"user"},{"role":"assistant","content":"x"}]}""", "missing field messages[0].content")]
    [InlineData("""{"messages":[{"role":"user","content":3},{"role":"assistant","content":"x"}]}""", "messages[0].content must be a string")]
    [InlineData("""{"messages":[]}""", "empty conversation")]
    [InlineData("""{"messages":[{"role":"system","content":"S"},{"role":"user","content":"Hi"}]}""", "no assistant turn")]
    [InlineData("""{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"x"},{"role":"user","content":"more"}]}""", "the last message must be the assistant's")]
    [InlineData("""{"prompt":"Hi"}""", "missing field \"completion\"")]
    [InlineData("""{"text":"Hi"}""", "missing field \"messages\"")]
    public void A_bad_line_is_one_error_naming_file_and_line(string bad, string expected)
    {
        using var dir = new TempDir();
        string path = Write(dir, "bad.jsonl", """{"prompt":"ok","completion":"fine"}""", "", bad);
        var e = Assert.Throws<InvalidDataException>(() => ChatJsonl.Read(path));
        Assert.StartsWith($"data: {path}:3: ", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_file_without_conversations_is_an_error()
    {
        using var dir = new TempDir();
        string path = Write(dir, "empty.jsonl", "", "  ");
        Assert.Equal($"data: {path}: no conversations", Assert.Throws<InvalidDataException>(() => ChatJsonl.Read(path)).Message);
    }
}
