using System.Text;
using Lathe.Tokenizers;

namespace Lathe.Tests.Data;

/// <summary>The trivial tokenizer for data-stage tests: one id per UTF-8 byte, 256 = end of text.</summary>
internal sealed class ByteEncoder : ITextEncoder
{
    public int VocabSize => 257;
    public int EndOfTextId => 256;

    public void Encode(string text, List<int> ids)
    {
        foreach (byte b in Encoding.UTF8.GetBytes(text)) ids.Add(b);
    }

    public static string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new byte[ids.Length];
        for (int i = 0; i < ids.Length; i++) bytes[i] = checked((byte)ids[i]);
        return Encoding.UTF8.GetString(bytes);
    }
}

/// <summary>Finds the npm peers (corpora) and the repo root, as the common brief says.</summary>
internal static class Peers
{
    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Lathe.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("repo root (Lathe.sln) not found");
        }
    }

    public static string NodeModules =>
        Environment.GetEnvironmentVariable("LATHE_NODE_MODULES") is { Length: > 0 } env ? env : Path.Combine(RepoRoot, ".peers", "node_modules");

    public static string Datasets => Path.Combine(NodeModules, "@stdlib", "datasets");
}

/// <summary>A temporary folder deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "lathe-data-" + Guid.NewGuid().ToString("N"));
    public TempDir() => Directory.CreateDirectory(Path);
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
}
